// Schema-guided mutation of recipes for the fuzz specs (packages/pipeline/src/recipe/recipe.fuzz.spec.ts,
// packages/cli/src/run.fuzz.spec.ts). `shippedRecipes()` reads recipes/*.yaml as plain objects;
// `mutate(raw, rng, count)` returns a deep copy with `count` random edits: a field set to a value
// of the wrong type, NaN, +-Infinity, a huge, negative or fractional number, an odd or
// path-like string; a required key deleted; an unknown key added. `prng(seed)` is mulberry32,
// so a failing case is reproduced from its seed and index.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const RECIPES = path.resolve(__dirname, '../../recipes');

function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

function shippedRecipes() {
  return fs
    .readdirSync(RECIPES)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ file: f, raw: YAML.parse(fs.readFileSync(path.join(RECIPES, f), 'utf8')) }));
}

const ODD_STRINGS = [
  '',
  ' ',
  '.',
  '..',
  '../..',
  '../../etc/x',
  '/etc/passwd',
  'a/b',
  'a\\b',
  'C:\\x',
  '~',
  '-rf',
  'a b',
  'x\ny',
  'tab\there',
  '\u0000',
  'é',
  '🙂',
  '__proto__',
  'constructor',
  'toString',
  'NaN',
  '1e999',
  'x'.repeat(300),
  '${HOME}',
  '$(id)',
  'mnist',
  'mlp',
  'ibp',
  'auto',
];
const NUMBERS = [NaN, Infinity, -Infinity, 1e308, -1e308, 2 ** 53 + 1, 1e9, -1, -1e9, 0, -0, 0.5, 1.5, 1e-300, 65537];
const KEYS = ['__proto__', 'constructor', 'prototype', 'epochz', 'x', '', 'name ', 'NAME', 'stage', 'options'];

function randomValue(rng, depth = 0) {
  switch (rng.int(depth > 1 ? 4 : 6)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.pick(ODD_STRINGS);
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return rng.int(1000) - 10;
    case 4:
      return Array.from({ length: rng.int(3) }, () => randomValue(rng, depth + 1));
    default:
      return { [rng.pick(KEYS)]: randomValue(rng, depth + 1) };
  }
}

/** Every [parent, key] pair of the tree (arrays by index), root excluded. */
function slots(node, out = []) {
  if (node === null || typeof node !== 'object') return out;
  for (const k of Object.keys(node)) {
    out.push([node, Array.isArray(node) ? Number(k) : k]);
    slots(node[k], out);
  }
  return out;
}

function mutate(raw, rng, count = 1) {
  const copy = JSON.parse(JSON.stringify(raw));
  const edits = [];
  for (let i = 0; i < count; i++) {
    const all = slots(copy);
    const [parent, key] = all.length ? rng.pick(all) : [copy, 'name'];
    const op = rng.int(10);
    if (op < 5) {
      const old = parent[key];
      // Numbers get numeric trouble more often, strings get odd strings.
      const v =
        typeof old === 'number' && rng.next() < 0.6
          ? rng.pick(NUMBERS)
          : typeof old === 'string' && rng.next() < 0.6
            ? rng.pick(ODD_STRINGS)
            : randomValue(rng);
      parent[key] = v;
      edits.push(`set ${String(key)}=${JSON.stringify(v)}`);
    } else if (op < 7) {
      if (Array.isArray(parent)) parent.splice(key, 1);
      else delete parent[key];
      edits.push(`delete ${String(key)}`);
    } else if (op < 9) {
      const target = parent[key] !== null && typeof parent[key] === 'object' && !Array.isArray(parent[key]) ? parent[key] : parent;
      const k = rng.pick(KEYS);
      Object.defineProperty(target, k, { value: randomValue(rng), enumerable: true, writable: true, configurable: true });
      edits.push(`add ${k}`);
    } else {
      parent[key] = rng.pick(ODD_STRINGS);
      edits.push(`string ${String(key)}`);
    }
  }
  return { raw: copy, edits };
}

module.exports = { prng, shippedRecipes, mutate, ODD_STRINGS };
