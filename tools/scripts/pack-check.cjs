#!/usr/bin/env node
// Packs every publishable workspace package (npm pack), installs all tarballs into an empty
// scratch project, and imports each package under plain `node` there. Exit 1 on any failure.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { workspacePackages } = require('./check-boundaries.cjs');

const root = path.resolve(__dirname, '../..');
const pkgs = workspacePackages(root).filter((p) => !p.json.private && p.dir.includes(`${path.sep}packages${path.sep}`));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-pack-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

try {
  const tarballs = [];
  for (const p of pkgs) {
    if (!fs.existsSync(path.join(p.dir, p.json.main || 'dist/index.js'))) throw new Error(`${p.json.name} is not built (run npm run build)`);
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], p.dir));
    const file = path.join(scratch, out[0].filename);
    const listed = out[0].files.map((f) => f.path);
    if (listed.some((f) => f.endsWith('.spec.js') || f.startsWith('src/'))) throw new Error(`${p.json.name}: tarball ships tests or sources`);
    tarballs.push(file);
    console.log(`packed ${p.json.name}@${p.json.version}: ${listed.length} files, ${(out[0].size / 1024).toFixed(0)} KiB`);
  }
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  fs.writeFileSync(path.join(scratch, '.npmrc'), 'onnxruntime-node-install=skip\n');
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=optional', ...tarballs], scratch);
  for (const p of pkgs) {
    const code = `const m = require(${JSON.stringify(p.json.name)}); const n = Object.keys(m).length; if (!n) throw new Error('no exports'); console.log(${JSON.stringify(p.json.name)} + ': ' + n + ' exports');`;
    process.stdout.write(run('node', ['-e', code], scratch));
  }
  const cli = run('node', [path.join(scratch, 'node_modules/.bin/certkd'), 'plugins', '--kind', 'architecture'], scratch);
  if (!cli.includes('cnn-small')) throw new Error(`certkd plugins from the installed tarball printed:\n${cli}`);
  console.log(`pack check: ${pkgs.length} packages packed, installed and imported`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
