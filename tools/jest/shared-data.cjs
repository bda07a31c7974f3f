// Data that tests and benches read from outside the repository: the VNN-COMP networks,
// properties and results, the PyTorch reference bench, ... live in `shared/` next to the
// checkout, i.e. `../shared` relative to the repository root (never an absolute path).
//
//   sharedPath('vnncomp', '2021', 'mnistfc')  -> <repo>/../shared/vnncomp/2021/mnistfc
//   requireData(paths, what)                   -> true when every path exists; otherwise, under CI
//                                                 (CI set and not 'false'/'0') throws an Error naming
//                                                 the missing paths, elsewhere warns once and returns false
//   describeWithData(paths, name, fn)          -> describe(), or describe.skip() after the warning
//   itWithData(paths, name, fn, timeout)       -> the same for a single test
//
// `paths` is one path or a list; it may name build outputs too (a test that spawns the built
// CLI needs dist/main.js, which Nx builds first: missing under CI is a failure, not a skip).
// `node tools/jest/shared-data.cjs --fingerprint` prints a digest of the names, sizes and
// modification times under the shared folders tests read (Nx's runtime input for test caching).
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SHARED_ROOT = path.resolve(REPO_ROOT, '..', 'shared');

function sharedPath(...parts) {
  return path.join(SHARED_ROOT, ...parts);
}

function underCi() {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

const rel = (p) => path.relative(REPO_ROOT, p) || '.';

function requireData(paths, what) {
  const list = Array.isArray(paths) ? paths : [paths];
  const missing = list.filter((p) => !fs.existsSync(p));
  if (missing.length === 0) return true;
  const names = missing.map((p) => `${p} (${rel(p)} from the repository root)`).join(', ');
  if (underCi()) throw new Error(`${what}: missing ${names}; CI runs every test, so the data or build output must be present`);
  console.warn(`skipping ${what}: missing ${names}`);
  return false;
}

function describeWithData(paths, name, fn) {
  return requireData(paths, name) ? describe(name, fn) : describe.skip(name, fn);
}

function itWithData(paths, name, fn, timeout) {
  return requireData(paths, name) ? it(name, fn, timeout) : it.skip(name, fn, timeout);
}

/** Folders of shared/ that tests read. */
const TEST_DATA = ['vnncomp'];

function fingerprint(dirs = TEST_DATA.map((d) => sharedPath(d))) {
  const hash = crypto.createHash('sha1');
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.statSync(p, { throwIfNoEntry: false });
        if (s) hash.update(`${path.relative(SHARED_ROOT, p)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const d of dirs) walk(d);
  return hash.digest('hex');
}

module.exports = { REPO_ROOT, SHARED_ROOT, sharedPath, requireData, describeWithData, itWithData, fingerprint, underCi };

if (require.main === module && process.argv.includes('--fingerprint')) console.log(fingerprint());
