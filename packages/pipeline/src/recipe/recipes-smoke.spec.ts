import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastValueFrom, toArray } from 'rxjs';
import { loadBackend } from '@certkd/core';
import { loadRecipe } from './load-recipe';
import { Recipe, TrainStage } from './schema';
import { runRecipe } from '../engine/run-recipe';
import { PARAM_COPIES_PER_STEP, WASM_HEAP_BYTES } from '../stages/train';

// Input shape and classes of each dataset a shipped recipe may name.
const SHAPES: Record<string, { shape: [number, number, number]; classes: number }> = {
  mnist: { shape: [28, 28, 1], classes: 10 },
  'fashion-mnist': { shape: [28, 28, 1], classes: 10 },
  cifar10: { shape: [32, 32, 3], classes: 10 },
  svhn: { shape: [32, 32, 3], classes: 10 },
  tinyimagenet: { shape: [64, 64, 3], classes: 200 },
  imagenet64: { shape: [64, 64, 3], classes: 1000 },
};

/** The recipe with its dataset replaced by synthetic data of the same shape, one batch per train stage, tiny evaluations, no report. */
function smoke(r: Recipe): Recipe {
  const s = SHAPES[r.dataset.name];
  if (!s) throw new Error(`no shape known for dataset ${r.dataset.name}`);
  return {
    ...r,
    backend: 'wasm',
    dataset: { ...r.dataset, name: 'synthetic', root: undefined, options: { n: 2, testN: 2, shape: s.shape, classes: s.classes, seed: 1 } },
    stages: r.stages
      .filter((st) => st.stage !== 'report')
      .map((st) => {
        switch (st.stage) {
          case 'train':
          case 'train-teacher':
          case 'train-student':
            // Every train stage trains here: a teacher cached by an earlier recipe would skip its batch.
            return { ...(st as TrainStage), epochs: 1, batchSize: 2, cache: false, optimizer: { ...(st as TrainStage).optimizer, milestones: [] } };
          // Evaluation and certification have their own tests; here they only need to start.
          case 'evaluate':
            return { ...st, metrics: ['clean' as const], n: 2, batchSize: 2 };
          case 'certify':
            return { ...st, methods: ['ibp'], timeout: 0, n: 2, batchSize: 2 };
          default:
            return st;
        }
      }),
  };
}

describe('every shipped recipe starts and runs one batch per training stage on data of its shape', () => {
  const dir = path.resolve(__dirname, '../../../../recipes');
  // The recipes at the top and the study's, with the study sweeps' base recipes (the other files
  // of recipes/sweeps and recipes/study/sweeps are sweep files, not recipes).
  const yaml = (sub: string, pattern = /\.ya?ml$/) =>
    fs
      .readdirSync(path.join(dir, sub))
      .filter((f) => pattern.test(f))
      .map((f) => path.join(sub, f));
  const files = [...yaml('.'), ...yaml('study'), ...yaml('study/sweeps', /^base-.*\.ya?ml$/)];
  let runs: string;
  beforeAll(async () => {
    await loadBackend('wasm');
    runs = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-smoke-'));
  });
  afterAll(() => fs.rmSync(runs, { recursive: true, force: true }));

  it.each(files)(
    '%s',
    async (file) => {
      const recipe = smoke(loadRecipe(path.join(dir, file)));
      const first = recipe.stages.find((s): s is TrainStage => ['train', 'train-teacher', 'train-student'].includes(s.stage));
      if (first) {
        const { ARCHITECTURES, architectureOptions, specParamCount } = await import('@certkd/core');
        const s = SHAPES[loadRecipe(path.join(dir, file)).dataset.name];
        const spec = ARCHITECTURES.find((a) => a.name === first.architecture.name)!.build(
          { ...s, mean: [0], std: [1] },
          architectureOptions.parse(first.architecture.options),
        );
        const tooBig = specParamCount(spec) * 4 * PARAM_COPIES_PER_STEP > WASM_HEAP_BYTES;
        if (tooBig) {
          // Models beyond the wasm heap are refused up front with a message that names the way out.
          await expect(lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, file), runsDir: runs }))).rejects.toThrow(
            /more than the wasm backend's 2 GiB heap: run it with --backend tensorflow/,
          );
          return;
        }
      }
      const events = await lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, file), runsDir: runs }).pipe(toArray()));
      expect(events[events.length - 1]).toMatchObject({ type: 'run-end', status: 'ok' });
      const trainStages = recipe.stages.filter((s) => s.stage.startsWith('train')).length;
      expect(events.filter((e) => e.type === 'batch-end')).toHaveLength(trainStages);
      expect(events.some((e) => e.type === 'batch-end' && !Number.isFinite(e.loss))).toBe(false);
    },
    300000,
  );
});
