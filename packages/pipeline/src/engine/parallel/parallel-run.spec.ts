import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { CancelledError, ConfigError, PipelineEvent, loadModel } from '@certkd/core';
import { parseRecipe } from '../../recipe/load-recipe';
import { runRecipe } from '../run-recipe';

jest.setTimeout(120_000);

// IBP training with the Shi et al. regularisers on an MLP with BatchNorm: batch statistics,
// batch means and their gradients all cross the workers; no sign-based attack.
const recipe = (workers: 'auto' | number, size: { n: number; epochs: number; batch: number } = { n: 96, epochs: 2, batch: 24 }) =>
  parseRecipe({
    name: 'par',
    seed: 5,
    backend: 'cpu',
    dataset: { name: 'synthetic', options: { n: size.n, testN: 16, shape: [6, 6, 1], classes: 3, seed: 2 } },
    stages: [
      {
        stage: 'train',
        model: 'net',
        architecture: { name: 'mlp', options: { hidden: [16, 16], batchnorm: true } },
        init: 'ibp',
        loss: { kind: 'certified-loss', name: 'ibp', options: { regularisers: true } },
        epochs: size.epochs,
        batchSize: size.batch,
        optimizer: { lr: 0.01 },
        eps: { max: 0.05, start: 0, ramp: 1 },
        workers,
      },
    ],
  });

describe('data-parallel train stage', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-par-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (workers: 'auto' | number, name: string, opts: { resume?: boolean; signal?: AbortSignal; onEvent?: (e: PipelineEvent) => void } = {}) =>
    lastValueFrom(
      runRecipe(recipe(workers), { recipeFile: path.join(dir, 'par.yaml'), runsDir: dir, name, resume: opts.resume, signal: opts.signal }).pipe(
        tap((e) => opts.onEvent?.(e)),
        toArray(),
      ),
    );
  const losses = (events: PipelineEvent[]) => events.flatMap((e) => (e.type === 'batch-end' ? [e.loss] : []));
  const weights = (name: string) => loadModel(path.join(dir, name, 'models', 'net')).network;

  it('two workers give the batch losses and weights of one, and say so in the log', async () => {
    const one = await run(1, 'one');
    const two = await run(2, 'two');
    expect(two.some((e) => e.type === 'log' && /data-parallel training on 2 worker threads/.test(e.message))).toBe(true);
    expect(one.some((e) => e.type === 'log' && /worker threads/.test(e.message))).toBe(false);
    const trainedBy = (name: string) => JSON.parse(fs.readFileSync(path.join(dir, name, 'results.json'), 'utf8')).models.net.train_workers;
    expect([trainedBy('one'), trainedBy('two')]).toEqual([1, 2]);
    const [a, b] = [losses(one), losses(two)];
    expect(b).toHaveLength(8);
    b.forEach((l, i) => expect(Math.abs(l - a[i])).toBeLessThanOrEqual(1e-5 * Math.abs(a[i]) + 1e-6));
    const [na, nb] = [weights('one'), weights('two')];
    const other = new Map(nb.namedParams());
    for (const [k, v] of na.namedParams()) {
      if (/^layers\.\d+\.(bias|movingMean)$/.test(k)) continue; // pre-BatchNorm biases: zero true gradient (see parallel-trainer.spec)
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v, other.get(k)!))).dataSync()[0]);
      expect(d).toBeLessThan(1e-4);
    }
    na.dispose();
    nb.dispose();
  });

  it('an interrupted two-worker run resumes to the same weights as an uninterrupted one', async () => {
    await run(2, 'straight');
    const controller = new AbortController();
    let batches = 0;
    await expect(
      run(2, 'cut', { signal: controller.signal, onEvent: (e) => e.type === 'batch-end' && ++batches === 5 && controller.abort() }),
    ).rejects.toBeInstanceOf(CancelledError);
    await run(2, 'cut', { resume: true });
    const [a, b] = [weights('straight'), weights('cut')];
    const other = new Map(b.namedParams());
    for (const [k, v] of a.namedParams()) expect(Array.from(other.get(k)!.dataSync())).toEqual(Array.from(v.dataSync()));
    a.dispose();
    b.dispose();
  });

  it('auto times a long stage both ways and keeps the faster; the in-process steps match workers: 1', async () => {
    const long = { n: 640, epochs: 10, batch: 32 }; // 200 steps of 2 x 16 examples
    const go = (workers: 'auto' | number, name: string) =>
      lastValueFrom(runRecipe(recipe(workers, long), { recipeFile: path.join(dir, 'par.yaml'), runsDir: dir, name }).pipe(toArray()));
    const auto = await go('auto', 'auto-long');
    const one = await go(1, 'one-long');
    const logs = auto.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    if (os.availableParallelism() >= 2) {
      expect(
        logs.some((m) => /^workers: auto: \d+ ms\/step on 2 worker threads, \d+ ms\/step in-process: training (on 2 worker threads|in-process)/.test(m)),
      ).toBe(true);
    }
    // The first steps run in-process either way: identical losses.
    expect(losses(auto).slice(0, 10)).toEqual(losses(one).slice(0, 10));
    expect(losses(auto)).toHaveLength(200);
    expect(fs.existsSync(path.join(dir, 'auto-long', 'models', 'net', 'weights.bin'))).toBe(true);
  });

  it('auto keeps a short stage in-process; a batch too small to split is refused naming the field', async () => {
    const auto = await run('auto', 'auto');
    expect(auto.some((e) => e.type === 'log' && /worker threads/.test(e.message))).toBe(false);
    const small = parseRecipe({ ...recipe(4), stages: [{ ...recipe(4).stages[0], batchSize: 6 }] });
    const err = await lastValueFrom(runRecipe(small, { recipeFile: 'par.yaml', runsDir: dir, name: 'small' }).pipe(toArray())).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/batch size 6 is too small to split over 4 workers/);
    expect((err as ConfigError).field).toBe('stages.0.workers');
  });
});
