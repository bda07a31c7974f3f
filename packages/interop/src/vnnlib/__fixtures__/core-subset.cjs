// The part of @certkd/core the VNN-LIB reader uses, from its TypeScript sources (parse-child.cjs).
'use strict';
const path = require('path');
const src = path.resolve(__dirname, '../../../../core/src');
module.exports = { ...require(path.join(src, 'errors/errors.ts')), ...require(path.join(src, 'tensor/float32-round.ts')) };
