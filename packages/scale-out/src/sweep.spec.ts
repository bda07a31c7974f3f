import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { planSweep } from './sweep/expand';
import { sweepJobs } from './jobs';
import { stats, tQuantile975 } from './report';

const SMOKE = path.resolve(__dirname, '../../../recipes/sweeps/smoke.yaml');

describe('sweep expansion', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-sweep-unit-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, body: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `name: t\nrecipe: ${path.resolve(path.dirname(SMOKE), 'smoke-base.yaml')}\n${body}`);
    return f;
  };
  const error = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  it('expands the smoke sweep into stable, safe run names, one validated recipe each', () => {
    const plan = planSweep(SMOKE);
    // Seed by seed, whatever the axes' order in the file: the arms of a pair are queued together.
    expect(plan.runs.map((r) => r.name)).toEqual(['smoke-alpha0-seed0', 'smoke-alpha0.5-seed0', 'smoke-alpha0-seed1', 'smoke-alpha0.5-seed1']);
    expect(plan.runs.map((r) => r.setting)).toEqual(['smoke-alpha0', 'smoke-alpha0.5', 'smoke-alpha0', 'smoke-alpha0.5']);
    expect(plan.runs.map((r) => r.recipe.seed)).toEqual([0, 0, 1, 1]);
    const student = plan.runs[1].recipe.stages[1] as unknown as { loss: { options: { alpha: number } } };
    expect(student.loss.options.alpha).toBe(0.5);
    expect(planSweep(SMOKE).runs.map((r) => r.name)).toEqual(plan.runs.map((r) => r.name));
  });

  it('plans every shipped sweep file: runs validated, one per grid point, every pair with its baseline', () => {
    const recipes = path.resolve(__dirname, '../../../recipes');
    const files = ['sweeps', 'study/sweeps'].flatMap((sub) =>
      fs
        .readdirSync(path.join(recipes, sub))
        .filter((f) => /\.ya?ml$/.test(f) && !/^(base-|smoke-base)/.test(f))
        .map((f) => path.join(recipes, sub, f)),
    );
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const plan = planSweep(f);
      const points = Object.values(plan.loaded.sweep.grid).reduce((n, values) => n * values.length, 1);
      expect([f, plan.runs.length]).toEqual([f, points]);
      expect(new Set(plan.runs.map((r) => r.name)).size).toBe(points);
    }
  });

  it('trains a teacher shared by several runs once, and the runs load it', () => {
    const plan = planSweep(SMOKE);
    expect(plan.teachers).toHaveLength(2); // one per seed
    for (const t of plan.teachers) expect(t.usedBy).toHaveLength(2);
    const r = plan.runs[0];
    expect(r.recipe.stages[0]).toMatchObject({ stage: 'load-teacher', model: 'teacher', path: `../_teachers/${r.teachers[0]}/models/teacher` });
    const jobs = sweepJobs(plan);
    expect(jobs.map((j) => j.id).slice(0, 2)).toEqual(plan.teachers.map((t) => `teacher.${t.name}`));
    expect(new Set(jobs.map((j) => j.id)).size).toBe(6);
    // A teacher used by one run only stays in that run.
    const single = planSweep(write('one.yaml', 'grid:\n  seed: [0, 1]\n'));
    expect(single.teachers).toHaveLength(0);
    expect(single.runs[0].recipe.stages[0].stage).toBe('train-teacher');
    // A teacher with a fixed seed is one job for every seed of the sweep.
    const fixed = planSweep(write('fixed.yaml', 'grid:\n  stages.teacher.seed: [0]\n  seed: [0, 1, 2]\n'));
    expect(fixed.teachers).toHaveLength(1);
    expect(fixed.teachers[0].usedBy).toEqual(fixed.runs.map((r) => r.name));
  });

  it('addresses stages by index, by model name and by kind', () => {
    const plan = planSweep(write('addr.yaml', 'grid:\n  stages.1.epochs: [1]\n  stages.teacher.batchSize: [64]\n  stages.evaluate.n: [50]\n'));
    const st = plan.runs[0].recipe.stages as unknown as { epochs?: number; batchSize?: number; n?: number }[];
    expect(st[1].epochs).toBe(1);
    expect(st[0].batchSize).toBe(64);
    expect(st[2].n).toBe(50);
    expect(plan.runs[0].name).toBe('t-epochs1-batchSize64-n50');
  });

  it('names the file and field of every mistake', () => {
    expect(error(() => planSweep(write('e1.yaml', 'grid:\n  stages.nosuch.epochs: [1]\n')))).toMatch(
      /e1\.yaml: grid\.stages\.nosuch\.epochs: no stage with model 'nosuch'/,
    );
    expect(error(() => planSweep(write('e2.yaml', 'grid:\n  seed: [0]\nbogus: 1\n')))).toMatch(/e2\.yaml: \(root\): unknown field\(s\) 'bogus'/);
    expect(error(() => planSweep(write('e3.yaml', 'grid:\n  stages.student.epochs: [0]\n')))).toMatch(/e3\.yaml: run 't-epochs0'.*stages\.1\.epochs/);
    expect(error(() => planSweep(write('e4.yaml', 'grid:\n  seed: [0]\npairs:\n  p:\n    baseline: { alpha: 0 }\n')))).toMatch(
      /pairs\.p\.baseline\.alpha: no grid axis 'alpha'/,
    );
    expect(error(() => planSweep(write('e5.yaml', 'grid:\n  seed: [0, 0]\n')))).toMatch(/grid\.seed: value 0 appears twice/);
    expect(error(() => planSweep(write('e6.yaml', 'grid:\n  dataset.name.x: [1]\n')))).toMatch(
      /grid\.dataset\.name\.x: 'dataset\.name' is "synthetic", not a mapping/,
    );
    expect(error(() => planSweep(path.join(dir, 'missing.yaml')))).toMatch(/missing\.yaml: sweep file not found/);
  });

  it('keeps run names unique and short when values would collide or be long', () => {
    const plan = planSweep(write('c.yaml', 'grid:\n  description: ["a b", "a_b", "x"]\n'));
    const names = plan.runs.map((r) => r.name);
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/);
  });
});

describe('sweep statistics', () => {
  it('uses Student t quantiles', () => {
    expect(tQuantile975(1)).toBeCloseTo(12.706, 3);
    expect(tQuantile975(4)).toBeCloseTo(2.776, 3);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(1000)).toBeCloseTo(1.9623, 3);
  });

  it('gives mean, sample sd and the 95% t-interval', () => {
    const s = stats([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    const half = (3.182 * Math.sqrt(5 / 3)) / 2;
    expect(s.ci95![0]).toBeCloseTo(2.5 - half, 10);
    expect(stats([7])).toEqual({ n: 1, mean: 7, sd: null, ci95: null });
  });
});
