#!/usr/bin/env node
// The VNN-COMP 2021 mnistfc bench (all three networks unless --filter says otherwise), beside
// every published tool's result: a shorthand for `bench.cjs 2021/mnistfc ...` (see there).
// Usage: node tools/bench-verify/mnistfc.cjs [--timeout S] [--workers W] [--limit N] [--filter 256x2] [--out file.jsonl]
'use strict';
const { main } = require('./bench.cjs');

main(['2021/mnistfc', ...process.argv.slice(2)]).catch((e) => {
  console.error(e.message);
  process.exit(e.exitCode ?? 1);
});
