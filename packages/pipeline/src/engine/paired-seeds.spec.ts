import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastValueFrom, toArray } from 'rxjs';
import { loadModel, Network, PipelineEvent } from '@certkd/core';
import { parseRecipe } from '../recipe/load-recipe';
import { runRecipe } from './run-recipe';

// Paired comparisons (METHODS 7): a student's initialisation, data order and training randomness
// derive from the recipe seed and its seed key, not from its stage's position, so CC-Dist with
// beta = 0 after a teacher stage is exactly CC-IBP without one.
const data = { name: 'synthetic', options: { n: 64, testN: 16, shape: [12, 12, 1], classes: 3, seed: 2 } };
const arch = { name: 'cnn-small', options: {} };
const student = (loss: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  stage: 'train-student',
  model: 'student',
  architecture: arch,
  init: 'ibp',
  epochs: 2,
  batchSize: 16,
  workers: 1,
  optimizer: { lr: 0.005 },
  eps: { max: 0.05, start: 0, ramp: 1 },
  loss,
  ...extra,
});
const radius = { alpha: 0.3, trainEpsMul: 2, attackSteps: 1, attackStepSize: 10 };
const teacher = {
  stage: 'train-teacher',
  model: 'teacher',
  architecture: arch,
  epochs: 1,
  batchSize: 16,
  workers: 1,
  loss: { kind: 'teacher', name: 'pgd-at', options: { steps: 2, stepSize: 0.5 } },
  eps: { max: 0.1 },
};

describe('paired seeds', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-paired-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = async (name: string, stages: unknown[], seed = 4): Promise<Network> => {
    const recipe = parseRecipe({ name, seed, backend: 'cpu', eps: 0.05, dataset: data, stages });
    await lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, `${name}.yaml`), runsDir: dir }).pipe(toArray<PipelineEvent>()));
    return loadModel(path.join(dir, name, 'models', 'student')).network;
  };
  const maxDiff = (a: Network, b: Network) => {
    let m = 0;
    const bp = new Map(b.namedParams());
    for (const [k, v] of a.namedParams()) {
      const x = v.dataSync();
      const y = bp.get(k)!.dataSync();
      for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
    }
    return m;
  };

  it('CC-Dist with beta = 0 after a teacher stage reproduces CC-IBP weights exactly at the same seed', async () => {
    const ccibp = await run('ccibp', [student({ kind: 'certified-loss', name: 'cc-ibp', options: radius })]);
    const ccdist0 = await run('ccdist0', [
      teacher,
      student({ kind: 'distill-loss', name: 'cc-dist', options: { ...radius, beta: 0 } }, { teacher: 'teacher' }),
    ]);
    expect(maxDiff(ccibp, ccdist0)).toBe(0);
    // The check can fail: a positive beta, or another seed, gives other weights.
    const ccdist = await run('ccdist', [
      teacher,
      student({ kind: 'distill-loss', name: 'cc-dist', options: { ...radius, beta: 0.5 } }, { teacher: 'teacher' }),
    ]);
    expect(maxDiff(ccibp, ccdist)).toBeGreaterThan(1e-4);
    const other = await run('ccibp-seed5', [student({ kind: 'certified-loss', name: 'cc-ibp', options: radius })], 5);
    expect(maxDiff(ccibp, other)).toBeGreaterThan(1e-4);
    for (const n of [ccibp, ccdist0, ccdist, other]) n.dispose();
    // Four training runs, two with a teacher stage: the preset's 60 s is too little when the two
    // cores are shared with other suites (it ran out so once, with a training run beside it).
  }, 240_000);

  it('a student keeps its weights when a stage is inserted before it, and seedKey decides the pairing', async () => {
    const alone = await run('alone', [student({ kind: 'certified-loss', name: 'ibp', options: {} })]);
    const after = await run('after', [
      { stage: 'train', model: 'other', architecture: arch, epochs: 1, batchSize: 16, workers: 1, seedKey: 'other' },
      student({ kind: 'certified-loss', name: 'ibp', options: {} }),
    ]);
    expect(maxDiff(alone, after)).toBe(0);
    const rekeyed = await run('rekeyed', [student({ kind: 'certified-loss', name: 'ibp', options: {} }, { seedKey: 'student-b' })]);
    expect(maxDiff(alone, rekeyed)).toBeGreaterThan(1e-4);
    for (const n of [alone, after, rekeyed]) n.dispose();
  });

  it("epoch diagnostics change no weight and land in metrics.csv next to both stages' loss parts", async () => {
    const loss = { kind: 'distill-loss', name: 'cc-dist', options: { ...radius, beta: 0.5 } };
    const plain = await run('diag-off', [teacher, student(loss, { teacher: 'teacher' })]);
    const diag = await run('diag-on', [teacher, student(loss, { teacher: 'teacher', diagnostics: { n: 8 } })]);
    expect(maxDiff(plain, diag)).toBe(0);
    for (const n of [plain, diag]) n.dispose();
    const lines = fs
      .readFileSync(path.join(dir, 'diag-on', 'metrics.csv'), 'utf8')
      .trim()
      .split('\n');
    const head = lines[0].split(',');
    // The teacher's part (adv) and the student's (cc-ibp, distill) and diagnostics all have columns.
    for (const c of ['adv', 'cc-ibp', 'distill', 'diag.feature_box_width', 'diag.unstable_relus', 'diag.teacher_distance']) expect(head).toContain(c);
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v])));
    expect(rows.map((r) => r.stage)).toEqual(['train-teacher', 'train-student', 'train-student']);
    expect(rows[0]['diag.feature_box_width']).toBe('');
    expect(rows[0].adv).not.toBe('');
    for (const r of rows.slice(1)) {
      expect(Number(r['diag.feature_box_width'])).toBeGreaterThan(0);
      expect(Number(r['diag.teacher_distance'])).toBeGreaterThan(0);
      expect(Number(r['cc-ibp'])).toBeGreaterThan(0);
    }
  });
});
