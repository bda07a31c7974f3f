#!/usr/bin/env node
// Packs every publishable workspace package (npm pack) and checks the tarballs:
//   - no specs or fixtures ship, and every source map in dist/ resolves to a file in the tarball;
//   - all tarballs installed together into an empty project import under plain `node`, and the
//     `certkd` command there lists the built-in plugins;
//   - one plugin package installed alone next to a packed core imports, and shares core's
//     @tensorflow/tfjs-core instance (a peer dependency) instead of bringing its own.
// Exit 1 on any failure.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const ALONE = '@certkd/attacks'; // the plugin installed with core only

function publishablePackages() {
  const dir = path.join(root, 'packages');
  return fs
    .readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((d) => fs.existsSync(path.join(d, 'package.json')))
    .map((d) => ({ dir: d, json: JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) }))
    .filter((p) => !p.json.private);
}

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

/** A scratch project that denies the install scripts the workspace denies (see package.json allowScripts). */
function scratchProject(dir) {
  const { allowScripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, allowScripts }));
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-pack-'));
try {
  const pkgs = publishablePackages();
  const tarballs = new Map();
  for (const p of pkgs) {
    if (!fs.existsSync(path.join(p.dir, p.json.main || 'dist/index.js'))) throw new Error(`${p.json.name} is not built (run npm run build)`);
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], p.dir));
    const file = path.join(scratch, out[0].filename);
    const listed = out[0].files.map((f) => f.path);
    const bad = listed.filter((f) => /\.spec\.[cm]?[jt]s(\.map)?$/.test(f) || f.includes('__fixtures__'));
    if (bad.length) throw new Error(`${p.json.name}: tarball ships tests or fixtures: ${bad.slice(0, 5).join(', ')}`);
    if (!listed.includes('LICENSE')) throw new Error(`${p.json.name}: tarball has no LICENSE`);
    // Every source map must point at files that are in the tarball (src/ ships for that reason).
    const inTarball = new Set(listed);
    let maps = 0;
    for (const m of listed.filter((f) => f.endsWith('.map'))) {
      const map = JSON.parse(fs.readFileSync(path.join(p.dir, m), 'utf8'));
      for (const s of map.sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(m), map.sourceRoot || '', s));
        if (!inTarball.has(target))
          throw new Error(
            `${p.json.name}: ${m} points at ${target}, which is not in the tarball (a stale dist/ file? rebuild from clean: rm -rf packages/*/dist && npm run build)`,
          );
      }
      maps++;
    }
    tarballs.set(p.json.name, file);
    console.log(`packed ${p.json.name}@${p.json.version}: ${listed.length} files, ${maps} source maps resolve, ${(out[0].size / 1024).toFixed(0)} KiB`);
  }

  // 1. Everything together.
  const all = path.join(scratch, 'all');
  fs.mkdirSync(all);
  scratchProject(all);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=optional', ...tarballs.values()], all);
  for (const p of pkgs) {
    const code = `const m = require(${JSON.stringify(p.json.name)}); const n = Object.keys(m).length; if (!n) throw new Error('no exports'); console.log(${JSON.stringify(p.json.name)} + ': ' + n + ' exports');`;
    process.stdout.write(run('node', ['-e', code], all));
  }
  const cli = run('node', [path.join(all, 'node_modules/.bin/certkd'), 'plugins', '--kind', 'architecture'], all);
  if (!cli.includes('cnn-small')) throw new Error(`certkd plugins from the installed tarball printed:\n${cli}`);

  // 2. One plugin alone next to core: it must import and use core's tfjs-core.
  const alone = path.join(scratch, 'alone');
  fs.mkdirSync(alone);
  scratchProject(alone);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=optional', tarballs.get('@certkd/core'), tarballs.get(ALONE)], alone);
  const code = [
    `const m = require(${JSON.stringify(ALONE)});`,
    `if (!Object.keys(m).length) throw new Error('no exports');`,
    `const from = (pkg) => require.resolve('@tensorflow/tfjs-core', { paths: [require.resolve(pkg)] });`,
    `if (from(${JSON.stringify(ALONE)}) !== from('@certkd/core')) throw new Error('two copies of @tensorflow/tfjs-core: ' + from(${JSON.stringify(ALONE)}) + ' and ' + from('@certkd/core'));`,
    `console.log(${JSON.stringify(ALONE)} + ' alone with @certkd/core: ' + Object.keys(m).length + ' exports, one tfjs-core');`,
  ].join('\n');
  process.stdout.write(run('node', ['-e', code], alone));
  console.log(`pack check: ${pkgs.length} packages packed, installed and imported`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
