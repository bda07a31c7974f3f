// Runs the VNN-LIB reader on the cases given as JSON on stdin, in a child process, so that a
// spec can put a hard time (and memory) limit around inputs that once hung or overflowed:
// spawn it with spawnSync(..., { timeout }) and read one JSON line per finished case.
// The TypeScript sources are compiled on the fly with SWC; @certkd/core resolves to its error
// classes and float32 rounding only (all the reader needs), which keeps the start-up short.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');
const { addHook } = require('pirates');
const { transformSync } = require('@swc/core');

addHook((code, filename) => transformSync(code, { filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code, {
  exts: ['.ts'],
  ignoreNodeModules: true,
});
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@certkd/core') return path.join(__dirname, 'core-subset.cjs');
  return resolve.call(this, request, ...rest);
};

const { parseVnnlib, loadVnnlib } = require('../vnnlib-property.ts');
const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const c of cases) {
  const t0 = process.hrtime.bigint();
  let out;
  try {
    const p = c.file ? loadVnnlib(c.file) : parseVnnlib(c.text, c.name);
    out = { name: c.name, ok: true, boxes: p.boxes.length, disjuncts: p.outputConstraints.length, rows: p.outputConstraints.map((d) => d.length) };
  } catch (e) {
    out = { name: c.name, ok: false, error: { name: e && e.name, message: String(e && e.message), exitCode: e && e.exitCode } };
  }
  out.ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(JSON.stringify(out) + '\n');
}
