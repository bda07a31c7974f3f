import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, toArray } from 'rxjs';
import { PipelineEvent } from '@certkd/core';
import { parseRecipe } from '../recipe/load-recipe';
import { runRecipe } from './run-recipe';
import { canonicalJson, teacherCacheKey } from './teacher-cache';

const data = { name: 'synthetic', options: { n: 48, testN: 8, shape: [4, 4, 1], classes: 3, seed: 1 } };
const teacher = (extra: Record<string, unknown> = {}) => ({
  stage: 'train-teacher',
  model: 'teacher',
  architecture: { name: 'mlp', options: { hidden: [8] } },
  epochs: 1,
  batchSize: 16,
  workers: 1,
  cache: true,
  loss: { kind: 'teacher', name: 'pgd-at', options: { steps: 2, stepSize: 0.5 } },
  eps: { max: 0.05 },
  ...extra,
});
const student = (beta: number) => ({
  stage: 'train-student',
  teacher: 'teacher',
  architecture: { name: 'mlp', options: { hidden: [8] } },
  epochs: 1,
  batchSize: 16,
  workers: 1,
  loss: { kind: 'distill-loss', name: 'cc-dist', options: { beta } },
  eps: { max: 0.05 },
});

describe('teacher cache', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-tcache-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = async (name: string, stages: unknown[], seed = 2, runs = 'runs') => {
    const recipe = parseRecipe({ name, seed, backend: 'cpu', eps: 0.05, dataset: data, stages });
    return lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, `${name}.yaml`), runsDir: path.join(dir, runs) }).pipe(toArray<PipelineEvent>()));
  };
  const teacherBatches = (ev: PipelineEvent[]) => ev.filter((e) => e.type === 'batch-end' && e.stage === 'train-teacher').length;
  const weights = (run: string, runs = 'runs') => fs.readFileSync(path.join(dir, runs, run, 'models', 'teacher', 'weights.bin'));

  it('a sweep of students trains an identical teacher once and reuses it; another teacher setting trains anew', async () => {
    const a = await run('beta-0', [teacher(), student(0)]);
    expect(teacherBatches(a)).toBe(3);
    const b = await run('beta-1', [teacher({ model: 'robust' }), { ...student(1), teacher: 'robust' }]);
    expect(teacherBatches(b)).toBe(0);
    expect(b.some((e) => e.type === 'log' && /from the teacher cache/.test(e.message))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'runs', 'beta-1', 'models', 'robust', 'weights.bin')).equals(weights('beta-0'))).toBe(true);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'beta-1', 'results.json'), 'utf8'));
    expect(results.models.robust.teacher_cache).toMatch(/^[0-9a-f]{24}$/);
    // The cache lives inside the runs folder, one entry so far.
    expect(fs.readdirSync(path.join(dir, 'runs', '.teachers'))).toHaveLength(1);
    const c = await run('longer-teacher', [teacher({ epochs: 2 }), student(0)]);
    expect(teacherBatches(c)).toBe(6);
    expect(fs.readdirSync(path.join(dir, 'runs', '.teachers'))).toHaveLength(2);
  });

  it('a teacher with a fixed seed is one model for every recipe seed: trained once, and the weights of that seed', async () => {
    const a = await run('fixed-seed-2', [teacher({ seed: 7 }), student(0.5)], 2, 'runs-fixed');
    expect(teacherBatches(a)).toBe(3);
    const b = await run('fixed-seed-3', [teacher({ seed: 7 }), student(0.5)], 3, 'runs-fixed');
    expect(teacherBatches(b)).toBe(0);
    expect(weights('fixed-seed-3', 'runs-fixed').equals(weights('fixed-seed-2', 'runs-fixed'))).toBe(true);
    // The same weights as a teacher trained without a fixed seed in a recipe of seed 7 (nothing cached there).
    const c = await run('recipe-seed-7', [teacher({ cache: false }), student(0.5)], 7, 'runs-plain');
    expect(teacherBatches(c)).toBe(3);
    expect(weights('recipe-seed-7', 'runs-plain').equals(weights('fixed-seed-2', 'runs-fixed'))).toBe(true);
    // The students follow the recipe seed: the two runs' students differ.
    const student2 = fs.readFileSync(path.join(dir, 'runs-fixed', 'fixed-seed-2', 'models', 'student', 'weights.bin'));
    const student3 = fs.readFileSync(path.join(dir, 'runs-fixed', 'fixed-seed-3', 'models', 'student', 'weights.bin'));
    expect(student2.equals(student3)).toBe(false);
  });

  it('the key ignores the model name, workers and key order, and changes with the seed and the settings', () => {
    const r = (seed: number, st: Record<string, unknown>) => parseRecipe({ name: 'k', seed, dataset: data, stages: [st] });
    const key = (seed: number, st: Record<string, unknown>) => {
      const recipe = r(seed, st);
      return teacherCacheKey(recipe, recipe.stages[0] as Parameters<typeof teacherCacheKey>[1]);
    };
    const k0 = key(2, teacher());
    expect(key(2, teacher({ model: 'other', workers: 2 }))).toBe(k0);
    expect(key(3, teacher())).not.toBe(k0);
    expect(key(2, teacher({ epochs: 2 }))).not.toBe(k0);
    // A fixed seed: the same key whatever the recipe seed, and the key of a plain teacher of that seed ...
    expect(key(3, teacher({ seed: 7 }))).toBe(key(2, teacher({ seed: 7 })));
    expect(key(2, teacher({ seed: 7 }))).toBe(key(7, teacher()));
    // ... unless the recipe seed also picks the training examples (a validation split).
    const split = (seed: number) => {
      const recipe = parseRecipe({ name: 'k', seed, dataset: { ...data, validation: 8 }, stages: [teacher({ seed: 7 })] });
      return teacherCacheKey(recipe, recipe.stages[0] as Parameters<typeof teacherCacheKey>[1]);
    };
    expect(split(2)).not.toBe(split(3));
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe(canonicalJson({ a: [{ c: 2, d: 1 }], b: 1 }));
  });

  it('a loaded teacher is a model of the run like a trained one: later stages name it, its student is the same, no tensor leaks', async () => {
    const evaluate = { stage: 'evaluate', models: ['teacher', 'student'], metrics: ['clean'] };
    const trained = [teacher({ cache: false }), student(0.5), evaluate];
    await run('trained', trained, 2, 'runs-models');
    const before = tf.memory().numTensors;
    await run('trained-again', trained, 2, 'runs-models');
    expect(tf.memory().numTensors).toBe(before);
    const teacherDir = path.join(dir, 'runs-models', 'trained', 'models', 'teacher');
    await run('loaded', [{ stage: 'load-teacher', model: 'teacher', path: teacherDir }, student(0.5), evaluate], 2, 'runs-models');
    expect(tf.memory().numTensors).toBe(before);
    const results = (r: string) => JSON.parse(fs.readFileSync(path.join(dir, 'runs-models', r, 'results.json'), 'utf8'));
    const studentWeights = (r: string) => fs.readFileSync(path.join(dir, 'runs-models', r, 'models', 'student', 'weights.bin'));
    expect(results('loaded').models.teacher).toMatchObject({
      role: 'teacher',
      architecture: 'mlp',
      loaded_from: teacherDir,
      clean_acc: results('trained').models.teacher.clean_acc,
    });
    // A sweep replaces a shared train-teacher stage by load-teacher: the student must not change.
    expect(studentWeights('loaded').equals(studentWeights('trained'))).toBe(true);
  });
});
