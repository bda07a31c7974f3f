// A sentinel tree for tests that run the CLI on hostile input: a folder of files and
// sub-folders around the run/output directory that no command may create, change or remove.
// `makeSentinel(root)` fills it; `snapshot(root)` records every path with its kind, size,
// mode and content hash; `diffSnapshots(a, b)` lists what differs (empty when untouched).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

function makeSentinel(root) {
  fs.mkdirSync(path.join(root, 'keep', 'nested', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(root, 'keep', 'a.txt'), 'sentinel a\n');
  fs.writeFileSync(path.join(root, 'keep', 'nested', 'b.bin'), crypto.randomBytes(64));
  fs.writeFileSync(path.join(root, 'keep', 'nested', 'deeper', 'c.json'), '{"sentinel":true}\n');
  fs.writeFileSync(path.join(root, 'top.txt'), 'top-level sentinel\n');
  return root;
}

function snapshot(root, skip = []) {
  const out = {};
  const skipAbs = skip.map((s) => path.resolve(s));
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (skipAbs.some((s) => p === s || p.startsWith(s + path.sep))) continue;
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      if (st.isDirectory()) {
        out[rel] = `dir ${st.mode}`;
        walk(p);
      } else {
        const hash = st.isFile() ? crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex') : 'link';
        out[rel] = `file ${st.size} ${st.mode} ${hash}`;
      }
    }
  };
  walk(root);
  return out;
}

function diffSnapshots(before, after) {
  const diffs = [];
  for (const k of Object.keys(before)) {
    if (!(k in after)) diffs.push(`removed ${k}`);
    else if (before[k] !== after[k]) diffs.push(`changed ${k}`);
  }
  for (const k of Object.keys(after)) if (!(k in before)) diffs.push(`created ${k}`);
  return diffs;
}

module.exports = { makeSentinel, snapshot, diffSnapshots };
