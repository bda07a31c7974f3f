import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { ConfigError } from '@certkd/core';
import { loadRecipe, parseRecipe } from './load-recipe';
import { validateRecipe } from './validate-recipe';
import { createRegistry } from '../engine/registry';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prng, shippedRecipes, mutate } = require('../../../../tools/jest/recipe-mutator.cjs');

// Schema-guided fuzzing of the recipe loader and validator (#16): the shipped recipes with
// random edits (wrong types, NaN, huge/negative/fractional numbers, odd and path-like strings,
// unknown keys, deleted keys). Every input must end as a valid recipe or as a ConfigError
// (exit code 2) with a one-line message naming the file: never another exception.
// CERTKD_FUZZ_SEED and CERTKD_FUZZ_N replay or widen a run.
const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 16);
const N = Number(process.env.CERTKD_FUZZ_N ?? 2500);

type Outcome = 'valid' | 'config-error';

/** Load (through the file when `viaFile`, else the parsed object) and validate; classify the end. */
function check(raw: unknown, file: string, viaFile: boolean): Outcome {
  try {
    const recipe = viaFile ? loadRecipe(file) : parseRecipe(raw, file);
    validateRecipe(recipe, createRegistry(recipe.plugins, path.dirname(file), { file }), file);
    return 'valid';
  } catch (e) {
    if (!(e instanceof ConfigError)) throw new Error(`not a ConfigError: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.exitCode).toBe(2);
    expect(e.message).not.toContain('\n');
    expect(e.message.startsWith(`${file}: `)).toBe(true);
    return 'config-error';
  }
}

describe('recipe fuzz', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-fuzz-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${N} mutated shipped recipes end valid or in a one-line ConfigError naming the file (seed ${SEED})`, () => {
    const rng = prng(SEED);
    const base: { file: string; raw: unknown }[] = shippedRecipes();
    expect(base.length).toBeGreaterThan(0);
    const counts: Record<Outcome, number> = { valid: 0, 'config-error': 0 };
    for (let i = 0; i < N; i++) {
      const src = base[rng.int(base.length)];
      const { raw, edits } = mutate(src.raw, rng, 1 + rng.int(3));
      // Every 8th input goes through a file (YAML or JSON text); the rest through the parsed object.
      const viaFile = i % 8 === 0;
      const file = path.join(dir, `case-${i}.${i % 16 === 0 ? 'json' : 'yaml'}`);
      if (viaFile) fs.writeFileSync(file, file.endsWith('.json') ? JSON.stringify(raw) : YAML.stringify(raw));
      try {
        counts[check(raw, file, viaFile)]++;
      } catch (e) {
        throw new Error(`seed ${SEED}, input ${i} (${src.file}: ${edits.join('; ')}): ${(e as Error).message}`);
      }
    }
    // The mutations must reach both ends, or the fuzz tests nothing.
    expect(counts['config-error']).toBeGreaterThan(N / 2);
    expect(counts.valid).toBeGreaterThan(0);
  });

  it('damaged recipe text (cut short, bytes flipped) ends in a ConfigError naming the file', () => {
    const rng = prng(SEED + 1);
    const texts = fs
      .readdirSync(path.resolve(__dirname, '../../../../recipes'))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => fs.readFileSync(path.resolve(__dirname, '../../../../recipes', f), 'utf8'));
    for (let i = 0; i < 200; i++) {
      let text: string = texts[rng.int(texts.length)];
      text =
        i % 2
          ? text.slice(0, rng.int(text.length))
          : text.slice(0, rng.int(text.length)) + String.fromCharCode(rng.int(128)) + text.slice(rng.int(text.length));
      const file = path.join(dir, `text-${i}.yaml`);
      fs.writeFileSync(file, text);
      try {
        check(undefined, file, true);
      } catch (e) {
        throw new Error(`seed ${SEED + 1}, text ${i}: ${(e as Error).message}`);
      }
    }
  });
});
