import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, ARCHITECTURES, architectureOptions, loadBackend, loadOrt, Network, ortThreads, SeededRng, setOrtThreads, TrainingLoss } from '@certkd/core';
import { NetworkTeacher } from '@certkd/teachers';
import { createRegistry } from '../registry';
import { trainStep, StepOutput } from '../train-step';
import { ParallelTrainer } from './parallel-trainer';
import { PluginRefMessage } from './protocol';

jest.setTimeout(120_000);

// A 12x12 input keeps cnn-small's layout (two convs with BatchNorm, dense 100, dense 10) at a fraction of the cost.
const input = { shape: [12, 12, 1] as [number, number, number], classes: 10, mean: [0.1], std: [0.3] };
const build = (name: string) => ARCHITECTURES.find((a) => a.name === name)!.build(input, architectureOptions.parse({}));
const ADAM = { lr: 2e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

interface Setup {
  net: Network;
  loss: TrainingLoss;
  extras: tf.Variable[];
  adam: Adam;
  teacher?: NetworkTeacher;
}

function setup(lossRef: PluginRefMessage, withTeacher: boolean): Setup {
  const net = Network.create(build('cnn-small'), new SeededRng(3), 'ibp');
  const teacher = withTeacher ? new NetworkTeacher(Network.create(build('mlp'), new SeededRng(4)), 'teacher') : undefined;
  const loss = createRegistry().create(lossRef.kind, lossRef.name, lossRef.options);
  loss.prepare?.(net, teacher, new SeededRng(9));
  const extras = loss.variables?.() ?? [];
  const adam = new Adam([...net.trainableVariables(), ...extras], ADAM);
  return { net, loss, extras, adam, teacher };
}

function batches(steps: number, n: number): { x: Float32Array; y: Int32Array }[] {
  const rng = new SeededRng(11);
  return Array.from({ length: steps }, () => ({
    x: Float32Array.from({ length: n * 144 }, () => rng.next()),
    y: Int32Array.from({ length: n }, () => rng.int(10)),
  }));
}

const stepArgs = (i: number, steps: number) => ({
  eps: 0.02 + 0.01 * i,
  epsMax: 0.05,
  progress: { epoch: 0, step: i, fraction: i / steps },
  lr: ADAM.lr,
  gradClip: 10,
});

function runSingle(s: Setup, data: ReturnType<typeof batches>): StepOutput[] {
  const rng = new SeededRng(21);
  const vars = [...s.net.trainableVariables(), ...s.extras];
  return data.map((b, i) => {
    const x = tf.tensor4d(b.x, [b.y.length, 12, 12, 1]);
    const y = tf.tensor1d(b.y, 'int32');
    try {
      return trainStep({ net: s.net, loss: s.loss, adam: s.adam, vars, x, y, rng: rng.fork(), teacher: s.teacher, ...stepArgs(i, data.length) });
    } finally {
      tf.dispose([x, y]);
    }
  });
}

async function runParallel(
  s: Setup,
  lossRef: PluginRefMessage,
  data: ReturnType<typeof batches>,
  workers: number,
  backend = 'wasm',
  onStart?: (t: ParallelTrainer) => void,
): Promise<StepOutput[]> {
  const trainer = await ParallelTrainer.start({
    workers,
    backend,
    plugins: [],
    baseDir: process.cwd(),
    net: s.net,
    loss: lossRef,
    teacher: s.teacher,
    prepareSeed: 9,
    extras: s.extras,
    adam: s.adam,
    adamConfig: ADAM,
  });
  onStart?.(trainer);
  try {
    const rng = new SeededRng(21);
    // All steps submitted at once, as the train stage's look-ahead does one step at a time.
    const out = await Promise.all(
      data.map((b, i) => trainer.step({ x: b.x, shape: [b.y.length, 12, 12, 1], y: b.y, rng: rng.fork(), ...stepArgs(i, data.length) })),
    );
    await trainer.pull();
    return out;
  } finally {
    await trainer.close();
  }
}

function dispose(s: Setup): void {
  s.loss.dispose?.();
  s.teacher?.dispose();
  s.adam.dispose();
  s.net.dispose();
}

/**
 * Largest relative difference between the parameters of two networks, except the biases that
 * feed a BatchNorm layer and that layer's running mean: their true gradient is zero (BatchNorm
 * subtracts them again), so Adam turns float noise into full-size steps there in any run.
 * Train-mode outputs, which do not depend on those biases, are compared instead.
 */
function maxRelDiff(a: Network, b: Network): number {
  const feedsBn = new Set<string>();
  a.layers.forEach((l, i) => {
    if (l.kind === 'batchnorm') feedsBn.add(`layers.${i - 1}.bias`).add(`layers.${i}.movingMean`);
  });
  let worst = 0;
  const bv = new Map(b.namedParams());
  for (const [k, v] of a.namedParams()) {
    if (feedsBn.has(k)) continue;
    const x = v.dataSync();
    const y = bv.get(k)!.dataSync();
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(x[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    worst = Math.max(worst, diff / Math.max(scale, 1e-6));
  }
  const probe = batches(1, 16)[0];
  worst = Math.max(
    worst,
    tf
      .tidy(() => {
        const x = tf.tensor4d(probe.x, [16, 12, 12, 1]);
        const ya = a.forward(x, { mode: 'train' }).output;
        const yb = b.forward(x, { mode: 'train' }).output;
        return tf.div(tf.max(tf.abs(tf.sub(ya, yb))), tf.max(tf.abs(ya)));
      })
      .dataSync()[0],
  );
  return worst;
}

describe('data-parallel training', () => {
  beforeAll(async () => {
    await loadBackend('wasm');
  });

  // cc-dist runs one step: its training attack steps by sign(gradient) in eval mode, whose
  // running means carry the float noise of the pre-BatchNorm biases (see maxRelDiff), so a
  // component near zero may flip sign in later steps of either run; one step covers the attack,
  // BatchNorm, teacher and adapter, and the attack-free losses run four steps.
  const cases: [string, PluginRefMessage, boolean, number, number, number][] = [
    [
      'cc-dist (BatchNorm, attack, adapter, teacher), 2 workers',
      { kind: 'distill-loss', name: 'cc-dist', options: { alpha: 0.3, trainEpsMul: 2, l1: 1e-5 } },
      true,
      32,
      2,
      1,
    ],
    ['ibp with the Shi et al. regularisers, uneven split (17 + 16)', { kind: 'certified-loss', name: 'ibp', options: { regularisers: true } }, false, 33, 2, 4],
    ['standard cross-entropy, 3 workers', { kind: 'certified-loss', name: 'standard', options: {} }, false, 30, 3, 4],
  ];

  it.each(cases)('%s: same losses and weights as one worker', async (_label, lossRef, withTeacher, batch, workers, steps) => {
    const data = batches(steps, batch);
    const single = setup(lossRef, withTeacher);
    const parallel = setup(lossRef, withTeacher);
    const before = tf.memory().numTensors;
    const a = runSingle(single, data);
    const b = await runParallel(parallel, lossRef, data, workers);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < a.length; i++) {
      expect(Math.abs(b[i].loss - a[i].loss)).toBeLessThanOrEqual(1e-5 * Math.abs(a[i].loss) + 1e-7);
      for (const k of Object.keys(a[i].parts)) expect(Math.abs(b[i].parts[k] - a[i].parts[k])).toBeLessThanOrEqual(1e-5 * Math.abs(a[i].parts[k]) + 1e-6);
      expect(b[i].correct).toBe(a[i].correct);
      expect(Math.abs(b[i].gradNorm - a[i].gradNorm)).toBeLessThanOrEqual(1e-4 * a[i].gradNorm);
    }
    // The weights pulled back from the workers (BatchNorm running statistics included) match.
    expect(maxRelDiff(single.net, parallel.net)).toBeLessThan(1e-4);
    expect(parallel.adam.step).toBe(single.adam.step);
    dispose(single);
    dispose(parallel);
  });

  // Workers on onnxruntime: each loads it with the main thread's intra-op threads split between
  // them; every conv and product is routed there (CERTKD_ORT_MIN_FLOPS=0, read by the workers),
  // and the result matches in-process wasm within the kernels' 1e-4 agreement.
  const ort = loadOrt();
  if (!ort.ok && process.env.CI === 'true') throw new Error(`onnxruntime-node did not load under CI: ${ort.reason}`);
  (ort.ok ? it : it.skip)('workers on the onnxruntime backend split the intra-op threads and match in-process training', async () => {
    const lossRef: PluginRefMessage = { kind: 'certified-loss', name: 'ibp', options: {} };
    const data = batches(2, 32);
    const single = setup(lossRef, false);
    const parallel = setup(lossRef, false);
    const a = runSingle(single, data);
    const saved = [process.env.CERTKD_ORT_MIN_FLOPS, ortThreads()] as const;
    process.env.CERTKD_ORT_MIN_FLOPS = '0';
    setOrtThreads(4);
    let compute: ParallelTrainer['compute'] = [];
    try {
      const b = await runParallel(parallel, lossRef, data, 2, 'onnxruntime', (t) => (compute = t.compute));
      expect(compute).toEqual([
        { backend: 'onnxruntime', ortThreads: 2 },
        { backend: 'onnxruntime', ortThreads: 2 },
      ]);
      for (let i = 0; i < a.length; i++) expect(Math.abs(b[i].loss - a[i].loss)).toBeLessThanOrEqual(1e-4 * Math.abs(a[i].loss));
      expect(maxRelDiff(single.net, parallel.net)).toBeLessThan(1e-3);
    } finally {
      if (saved[0] === undefined) delete process.env.CERTKD_ORT_MIN_FLOPS;
      else process.env.CERTKD_ORT_MIN_FLOPS = saved[0];
      setOrtThreads(saved[1]);
      dispose(single);
      dispose(parallel);
    }
  });

  it('a worker that cannot build the loss fails the start with the loss name', async () => {
    const lossRef: PluginRefMessage = { kind: 'certified-loss', name: 'standard', options: {} };
    const s = setup(lossRef, false);
    await expect(
      ParallelTrainer.start({
        workers: 2,
        backend: 'wasm',
        plugins: [],
        baseDir: process.cwd(),
        net: s.net,
        loss: { ...lossRef, name: 'no-such-loss' },
        prepareSeed: 0,
        extras: [],
        adam: s.adam,
        adamConfig: ADAM,
      }),
    ).rejects.toThrow(/no-such-loss/);
    dispose(s);
  });

  it('a worker failing mid-step fails the step with its own message and releases the waiting worker', async () => {
    const s = setup({ kind: 'certified-loss', name: 'standard', options: {} }, false);
    const trainer = await ParallelTrainer.start({
      workers: 2,
      backend: 'wasm',
      plugins: [path.join(__dirname, '__fixtures__', 'fails-on-rank-1.cjs')],
      baseDir: process.cwd(),
      net: s.net,
      loss: { kind: 'certified-loss', name: 'fails-on-rank-1', options: {} },
      prepareSeed: 0,
      extras: [],
      adam: s.adam,
      adamConfig: ADAM,
    });
    const b = batches(1, 8)[0];
    const t0 = Date.now();
    try {
      await expect(trainer.step({ x: b.x, shape: [8, 12, 12, 1], y: b.y, rng: new SeededRng(1), ...stepArgs(0, 1) })).rejects.toThrow(
        /deliberate failure in worker 1/,
      );
      // Released by the abort, not by the 120 s barrier timeout.
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      await trainer.close();
      dispose(s);
    }
  });
});
