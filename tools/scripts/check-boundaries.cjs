#!/usr/bin/env node
// Enforces tools/boundaries.json over every workspace package: declared dependencies and
// every `@certkd/*` import in its sources must point at packages whose Nx tag is allowed.
// Exit 1 with one line per violation. Usable as a library: checkBoundaries(root) -> string[].
'use strict';
const fs = require('fs');
const path = require('path');

function workspacePackages(root) {
  const out = [];
  for (const base of ['packages', 'packages/examples', 'tools']) {
    const dir = path.join(root, base);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const pj = path.join(dir, name, 'package.json');
      if (!fs.existsSync(pj)) continue;
      const json = JSON.parse(fs.readFileSync(pj, 'utf8'));
      out.push({ dir: path.join(dir, name), json, tags: (json.nx && json.nx.tags) || [] });
    }
  }
  return out;
}

function sourceImports(dir) {
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'dist') walk(p);
      } else if (/\.(ts|cjs|js)$/.test(e.name) && !/\.spec\.ts$/.test(e.name)) {
        const text = fs.readFileSync(p, 'utf8');
        for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)['"](@certkd\/[a-z0-9-]+)/g)) found.push({ file: p, target: m[1] });
      }
    }
  };
  const src = path.join(dir, 'src');
  if (fs.existsSync(src)) walk(src);
  return found;
}

function checkBoundaries(root) {
  const rules = JSON.parse(fs.readFileSync(path.join(root, 'tools/boundaries.json'), 'utf8')).depConstraints;
  const pkgs = workspacePackages(root);
  const byName = new Map(pkgs.map((p) => [p.json.name, p]));
  const problems = [];
  for (const p of pkgs) {
    const name = p.json.name;
    if (p.tags.length !== 1) {
      problems.push(`${name}: needs exactly one type:* tag in package.json nx.tags, has [${p.tags}]`);
      continue;
    }
    const rule = rules.find((r) => r.sourceTag === p.tags[0]);
    if (!rule) {
      problems.push(`${name}: tag ${p.tags[0]} has no rule in tools/boundaries.json`);
      continue;
    }
    const allowed = (target, where) => {
      if (target === name) return;
      const t = byName.get(target);
      if (!t) return problems.push(`${name}: ${where} names ${target}, which is not a workspace package`);
      if (!t.tags.some((tag) => rule.onlyDependOnLibsWithTags.includes(tag))) {
        problems.push(`${name} (${p.tags[0]}) may not depend on ${target} (${t.tags.join(',')}): ${where}`);
      }
    };
    const deps = { ...(p.json.dependencies || {}), ...(p.json.peerDependencies || {}), ...(p.json.optionalDependencies || {}) };
    for (const d of Object.keys(deps)) if (d.startsWith('@certkd/')) allowed(d, 'package.json dependency');
    for (const imp of sourceImports(p.dir)) {
      if (!(imp.target in deps) && imp.target !== name) problems.push(`${name}: ${path.relative(root, imp.file)} imports ${imp.target}, which package.json does not declare`);
      allowed(imp.target, path.relative(root, imp.file));
    }
  }
  return problems;
}

module.exports = { checkBoundaries, workspacePackages };

if (require.main === module) {
  const root = path.resolve(__dirname, '../..');
  const problems = checkBoundaries(root);
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log(`module boundaries: ${workspacePackages(root).length} packages ok`);
}
