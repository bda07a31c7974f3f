import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { Adam, CancelledError, Network, PipelineEvent, SeededRng, loadModel } from '@certkd/core';
import { parseRecipe } from '../recipe/load-recipe';
import { runRecipe } from './run-recipe';
import { trainStep } from './train-step';

const tiny = (extra: Record<string, unknown> = {}) =>
  parseRecipe({
    name: 'tiny',
    seed: 3,
    backend: 'cpu',
    dataset: { name: 'synthetic', options: { n: 48, testN: 16, shape: [6, 6, 1], classes: 3, seed: 1 } },
    stages: [
      { stage: 'train', model: 'net', architecture: { name: 'mlp', options: { hidden: [8] } }, epochs: 2, batchSize: 16, optimizer: { lr: 0.01 } },
      { stage: 'evaluate', metrics: ['clean'] },
    ],
    ...extra,
  });

describe('runRecipe', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-run-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (recipe = tiny(), opts: { resume?: boolean; signal?: AbortSignal; name?: string } = {}) =>
    lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, 'tiny.yaml'), runsDir: dir, ...opts }).pipe(toArray()));

  it('emits the exact ordered event list of a tiny run (golden)', async () => {
    const events = await run();
    const summary = events.map((e: PipelineEvent) => {
      switch (e.type) {
        case 'stage-start':
        case 'stage-end':
          return `${e.type}:${e.stage}`;
        case 'epoch-start':
        case 'epoch-end':
          return `${e.type}:${e.epoch}`;
        case 'batch-end':
          return `batch:${e.epoch}.${e.batch}/${e.batches}`;
        case 'evaluation':
          return `evaluation:${e.model}:${e.metric}`;
        case 'artifact':
          return `artifact:${e.kind}`;
        default:
          return e.type;
      }
    });
    expect(summary).toEqual([
      'run-start',
      'stage-start:prepare-data',
      'log',
      'stage-end:prepare-data',
      'stage-start:train',
      'epoch-start:1',
      'batch:1.1/3',
      'batch:1.2/3',
      'batch:1.3/3',
      'epoch-end:1',
      'checkpoint',
      'epoch-start:2',
      'batch:2.1/3',
      'batch:2.2/3',
      'batch:2.3/3',
      'epoch-end:2',
      'checkpoint',
      'artifact:model',
      'stage-end:train',
      'stage-start:evaluate',
      'evaluation:net:clean_acc',
      'stage-end:evaluate',
      'run-end',
    ]);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'tiny', 'results.json'), 'utf8'));
    expect(results).toMatchObject({ dataset: 'synthetic', architecture: 'mlp', eps: 0, n_examples: 16, backend: 'cpu', seed: 3 });
    expect(results.clean_acc).toBeGreaterThanOrEqual(0);
    expect(results.clean_acc).toBeLessThanOrEqual(1);
    expect(fs.existsSync(path.join(dir, 'tiny', 'models', 'net', 'model.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tiny', 'recipe.yaml'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tiny', 'checkpoint', 'model', 'weights.bin'))).toBe(true);
    expect(
      fs
        .readFileSync(path.join(dir, 'tiny', 'events.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean).length,
    ).toBeGreaterThan(0);
  });

  it('refuses to overwrite an existing run without --resume or --force', async () => {
    await run();
    await expect(run()).rejects.toThrow(/already exists; use --resume/);
  });

  it('an interrupted run resumed gives the same weights as an uninterrupted one', async () => {
    await run(tiny(), { name: 'straight' });
    const straight = loadModel(path.join(dir, 'straight', 'models', 'net')).network;

    const controller = new AbortController();
    let batches = 0;
    // Abort after the 4th batch (mid epoch 2): the stage stops after it and checkpoints.
    const interrupted = lastValueFrom(
      runRecipe(tiny(), { recipeFile: 'tiny.yaml', runsDir: dir, name: 'cut', signal: controller.signal }).pipe(
        tap((e) => {
          if (e.type === 'batch-end' && ++batches === 4) controller.abort();
        }),
        toArray(),
      ),
    );
    await expect(interrupted).rejects.toBeInstanceOf(CancelledError);
    expect(fs.existsSync(path.join(dir, 'cut', 'checkpoint', 'state.json'))).toBe(true);
    const events = await run(tiny(), { name: 'cut', resume: true });
    expect(events[0]).toMatchObject({ type: 'run-start', resumed: true });
    const resumed = loadModel(path.join(dir, 'cut', 'models', 'net')).network;
    for (const [k, v] of straight.namedParams()) {
      const w = resumed.namedParams().find(([n]) => n === k)![1];
      expect(tf.max(tf.abs(tf.sub(v, w))).dataSync()[0]).toBe(0);
    }
    straight.dispose();
    resumed.dispose();
    expect(batches).toBe(4);
  });

  it('unsubscribing aborts the running stage at the next batch, writes a checkpoint, and cleans up only once the stage settled', async () => {
    const before = tf.memory().numTensors;
    const lock = path.join(dir, 'unsub', 'run.lock');
    let batches = 0;
    let lockHeldAtUnsubscribe = false;
    await new Promise<void>((resolve, reject) => {
      const sub = runRecipe(tiny(), { recipeFile: 'tiny.yaml', runsDir: dir, name: 'unsub' }).subscribe({
        next: (e) => {
          if (e.type === 'batch-end' && ++batches === 2) {
            sub.unsubscribe();
            // The stage body is still running: the lock is kept until it has settled.
            lockHeldAtUnsubscribe = fs.existsSync(lock);
            resolve();
          }
        },
        error: reject,
      });
    });
    expect(lockHeldAtUnsubscribe).toBe(true);
    const state = path.join(dir, 'unsub', 'checkpoint', 'state.json');
    for (let i = 0; i < 200 && (fs.existsSync(lock) || !fs.existsSync(state)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(fs.existsSync(state)).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
    // No further batch ran after the unsubscribe: the checkpoint is at batch 2 of epoch 1.
    expect(JSON.parse(fs.readFileSync(state, 'utf8'))).toMatchObject({ epoch: 0, nextBatch: 2 });
    expect(tf.memory().numTensors).toBe(before);
    const events = await run(tiny(), { name: 'unsub', resume: true });
    expect(events[events.length - 1]).toMatchObject({ type: 'run-end', status: 'ok' });
  });

  it('leaks no tensors over a whole run', async () => {
    await run(tiny(), { name: 'warm' });
    const before = tf.memory().numTensors;
    await run(tiny(), { name: 'again' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('trainStep with a one-part loss', () => {
  it('reports a part that is the total itself without touching a disposed tensor', () => {
    const net = Network.create({ inputShape: [3], layers: [{ kind: 'dense', units: 2, useBias: true }] }, new SeededRng(0));
    const vars = net.trainableVariables();
    const adam = new Adam(vars);
    const loss = {
      name: 'one-part',
      compute: (ctx: { net: typeof net; x: tf.Tensor; y: tf.Tensor1D }) => {
        const total = tf.losses.softmaxCrossEntropy(tf.oneHot(ctx.y, 2), ctx.net.predict(ctx.x)) as tf.Scalar;
        return { total, parts: { only: total } };
      },
    };
    const x = tf.tensor2d([[1, 2, 3]]);
    const y = tf.tensor1d([1], 'int32');
    const before = tf.memory().numTensors;
    const out = trainStep({
      net,
      loss: loss as never,
      adam,
      vars,
      x,
      y,
      eps: 0,
      epsMax: 0,
      rng: new SeededRng(1),
      progress: { epoch: 0, step: 0, fraction: 0 },
      lr: 0.1,
      gradClip: 0,
    });
    expect(out.parts.only).toBeCloseTo(out.loss, 6);
    expect(tf.memory().numTensors).toBe(before);
    adam.dispose();
    net.dispose();
  });
});

describe('resume across stages', () => {
  it('a run interrupted in the student stage resumes with the restored teacher to the same weights', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-run2-'));
    const recipe = parseRecipe({
      name: 'two',
      seed: 5,
      backend: 'cpu',
      eps: 0.05,
      dataset: { name: 'synthetic', options: { n: 48, testN: 8, shape: [4, 4, 1], classes: 3, seed: 1 } },
      stages: [
        {
          stage: 'train-teacher',
          model: 'teacher',
          architecture: { name: 'mlp', options: { hidden: [8] } },
          epochs: 1,
          batchSize: 16,
          loss: { kind: 'teacher', name: 'pgd-at', options: { steps: 1, stepSize: 1.25 } },
          eps: { max: 0.05 },
        },
        {
          stage: 'train-student',
          model: 'student',
          teacher: 'teacher',
          architecture: { name: 'mlp', options: { hidden: [8] } },
          epochs: 2,
          batchSize: 16,
          loss: { kind: 'distill-loss', name: 'cc-dist', options: {} },
          eps: { max: 0.05, start: 0, ramp: 1 },
        },
      ],
    });
    const go = (name: string, opts: { resume?: boolean; signal?: AbortSignal } = {}, onEvent: (e: PipelineEvent) => void = () => undefined) =>
      lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, 'two.yaml'), runsDir: dir, name, ...opts }).pipe(tap(onEvent), toArray()));
    await go('straight');
    const controller = new AbortController();
    let studentBatches = 0;
    await expect(
      go('cut', { signal: controller.signal }, (e) => {
        if (e.type === 'batch-end' && e.stage === 'train-student' && ++studentBatches === 4) controller.abort();
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    const events = await go('cut', { resume: true });
    expect(events.filter((e) => e.type === 'stage-end' && e.stage === 'train-teacher')).toEqual([expect.objectContaining({ skipped: true })]);
    const a = loadModel(path.join(dir, 'straight', 'models', 'student')).network;
    const b = loadModel(path.join(dir, 'cut', 'models', 'student')).network;
    for (const [k, v] of a.namedParams()) {
      expect(tf.max(tf.abs(tf.sub(v, b.namedParams().find(([n]) => n === k)![1]))).dataSync()[0]).toBe(0);
    }
    a.dispose();
    b.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
