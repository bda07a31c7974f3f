#!/usr/bin/env node
'use strict';
require('reflect-metadata');
require('../dist/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
