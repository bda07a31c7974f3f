import * as tf from '@tensorflow/tfjs-core';
import {
  Adam,
  ConfigError,
  crossEntropyPerSample,
  linfBox as epsBox,
  Network,
  SeededRng,
  type Attack,
  type LossContext,
  type NetworkSpec,
  type TrainingLoss,
  createPluginContainer,
  pluginRegistry,
} from '@certkd/core';
import { maximizeInBox } from './inner-max';
import { PgdAtLoss } from './pgd-at';
import { registerTeachers } from './plugins';

const registryPlugins = createPluginContainer();
registerTeachers(registryPlugins);
const registry = pluginRegistry(registryPlugins);

function bnMlp(d: number, rng: SeededRng): Network {
  const spec: NetworkSpec = {
    inputShape: [d],
    layers: [
      { kind: 'dense', units: 16, useBias: true },
      { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
      { kind: 'relu' },
      { kind: 'dense', units: 3, useBias: true },
    ],
  };
  return Network.create(spec, rng);
}

function ctxFor(net: Network, x: tf.Tensor, y: tf.Tensor1D, eps: number, seed = 1, extra: Partial<LossContext> = {}): LossContext {
  return { net, x, y, eps, epsMax: eps, rng: new SeededRng(seed), progress: { epoch: 0, step: 0, fraction: 0 }, ...extra };
}

/**
 * Two classes in [0,1]^d: feature 0 is robust (means 0.5 -/+ 0.25, sd 0.05); the other d - 1
 * are weak (means 0.5 -/+ 0.05, sd 0.1) and flip under eps = 0.1. Standard training uses the
 * weak ones too; adversarial training has to rely on feature 0.
 */
function blobs(n: number, d: number, rng: SeededRng): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const xs = new Float32Array(n * d);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    const sgn = ys[i] ? 1 : -1;
    for (let j = 0; j < d; j++) {
      const v = j === 0 ? 0.5 + sgn * 0.25 + 0.05 * rng.normal() : 0.5 + sgn * 0.05 + 0.1 * rng.normal();
      xs[i * d + j] = Math.min(1, Math.max(0, v));
    }
  }
  return { x: tf.tensor2d(xs, [n, d]), y: tf.tensor1d(ys, 'int32') };
}

describe('teacher training losses', () => {
  const rng = new SeededRng(5);
  const d = 6;
  let net: Network;
  let x: tf.Tensor2D;
  let y: tf.Tensor1D;
  beforeAll(() => {
    net = bnMlp(d, rng);
    x = tf.randomUniform([10, d], 0, 1, 'float32', 3) as tf.Tensor2D;
    y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32');
  });
  afterAll(() => {
    tf.dispose([x, y]);
    net.dispose();
  });

  it('registers pgd-at and trades as teacher plugins', () => {
    expect(registry.names('teacher')).toEqual(['pgd-at', 'trades']);
    expect(() => registry.create('teacher', 'trades', { beta: -1 })).toThrow(ConfigError);
    expect(() => registry.create('teacher', 'pgd-at', { schedule: 'x' })).toThrow(ConfigError);
  });

  const expectedParts: Record<string, string[]> = { 'pgd-at': ['adv'], trades: ['natural', 'robust'] };
  for (const name of ['pgd-at', 'trades']) {
    describe(name, () => {
      const make = () => registry.create('teacher', name, { steps: 3 });

      it('gives a finite scalar with its named parts and batch statistics', () => {
        tf.tidy(() => {
          const out = make().compute(ctxFor(net, x, y, 0.1));
          expect(out.total.rank).toBe(0);
          expect(Number.isFinite(out.total.dataSync()[0])).toBe(true);
          expect(Object.keys(out.parts).sort()).toEqual(expectedParts[name]);
          for (const p of Object.values(out.parts)) expect(Number.isFinite(p.dataSync()[0])).toBe(true);
          expect([...(out.bnStats?.keys() ?? [])]).toEqual([1]);
          if (name === 'trades') {
            const { natural, robust } = out.parts;
            expect(out.total.dataSync()[0]).toBeCloseTo(natural.dataSync()[0] + 6 * robust.dataSync()[0], 5);
            expect(robust.dataSync()[0]).toBeGreaterThan(0);
          }
        });
      });

      it('is larger under attack than at eps 0', () => {
        const [at0, at1] = tf.tidy(() => [
          make()
            .compute(ctxFor(net, x, y, 0))
            .total.dataSync()[0],
          make()
            .compute(ctxFor(net, x, y, 0.2))
            .total.dataSync()[0],
        ]);
        expect(at1).toBeGreaterThan(at0);
      });

      it('sends gradients to every trainable weight, leaks nothing and leaves running stats alone', () => {
        const vars = net.trainableVariables();
        const stats = [net.param(1, 'movingMean'), net.param(1, 'movingVariance')].map((v) => Array.from(v.dataSync()));
        const before = tf.memory().numTensors;
        const loss = make();
        const { value, grads } = tf.variableGrads(() => loss.compute(ctxFor(net, x, y, 0.1)).total, vars);
        expect(Object.keys(grads).sort()).toEqual(vars.map((v) => v.name).sort());
        for (const g of Object.values(grads)) {
          const a = g.dataSync();
          expect(a.every(Number.isFinite)).toBe(true);
          expect(a.some((v) => v !== 0)).toBe(true);
        }
        value.dispose();
        tf.dispose(grads);
        expect(tf.memory().numTensors).toBe(before);
        expect([net.param(1, 'movingMean'), net.param(1, 'movingVariance')].map((v) => Array.from(v.dataSync()))).toEqual(stats);
      });

      it('is reproducible for a given seed', () => {
        const run = (seed: number) =>
          tf.tidy(
            () =>
              make()
                .compute(ctxFor(net, x, y, 0.1, seed))
                .total.dataSync()[0],
          );
        expect(run(9)).toBe(run(9));
      });
    });
  }

  it('pgd-at keeps x_adv inside the clipped eps box', () => {
    const loss = new PgdAtLoss({ steps: 5 });
    const xAdv = loss.adversarial(ctxFor(net, x, y, 0.05));
    const [lo, hi] = tf.tidy(() => {
      const b = epsBox(x, 0.05);
      return [tf.max(tf.sub(b.lower, xAdv)).dataSync()[0], tf.max(tf.sub(xAdv, b.upper)).dataSync()[0]];
    });
    expect(Math.max(lo, hi)).toBeLessThanOrEqual(1e-7);
    xAdv.dispose();
  });

  it('pgd-at uses ctx.attack when asked, and refuses to run without one', () => {
    let calls = 0;
    const attack: Attack = {
      name: 'lower-corner',
      run: (_n, _x, yy, box) => {
        calls++;
        return { x: tf.clone(box.lower), loss: tf.zeros([yy.shape[0]]) as tf.Tensor1D };
      },
    };
    const loss = new PgdAtLoss({ useContextAttack: true });
    const got = loss.adversarial(ctxFor(net, x, y, 0.05, 1, { attack }));
    const want = tf.tidy(() => tf.clipByValue(tf.sub(x, 0.05), 0, 1));
    expect(calls).toBe(1);
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([got, want]);
    expect(() => loss.adversarial(ctxFor(net, x, y, 0.05))).toThrow(/useContextAttack/);
  });
});

describe('adversarial training makes a small MLP more robust', () => {
  it('pgd-at beats standard training on robust accuracy', () => {
    const d = 16;
    const eps = 0.1;
    const rng = new SeededRng(42);
    const train = blobs(128, d, rng);
    const test = blobs(200, d, rng);
    const spec: NetworkSpec = {
      inputShape: [d],
      layers: [
        { kind: 'normalize', mean: [0.5], std: [0.1] },
        { kind: 'dense', units: 16, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 2, useBias: true },
      ],
    };
    const init = Network.create(spec, new SeededRng(7));

    // eps ramps up over the first 20 steps (ctx.eps is the scheduled eps), as in practice.
    const fit = (loss: TrainingLoss, trainEps: number): Network => {
      const net = init.clone();
      const vars = net.trainableVariables();
      const opt = new Adam(vars);
      const r = new SeededRng(8);
      for (let s = 0; s < 60; s++) {
        const { value, grads } = tf.variableGrads(() => loss.compute({ ...ctxFor(net, train.x, train.y, trainEps * Math.min(1, s / 20)), rng: r }).total, vars);
        opt.apply(
          vars.map((v) => grads[v.name]),
          0.01,
        );
        value.dispose();
        tf.dispose(grads);
      }
      opt.dispose();
      return net;
    };
    const robustAcc = (net: Network): { clean: number; robust: number } =>
      tf.tidy(() => {
        const acc = (xs: tf.Tensor) => tf.mean(tf.cast(tf.equal(tf.argMax(net.predict(xs), 1), tf.cast(test.y, 'int32')), 'float32')).dataSync()[0];
        const box = epsBox(test.x, eps);
        const adv = maximizeInBox((xi) => crossEntropyPerSample(net.predict(xi), test.y), test.x, box, new SeededRng(3), {
          steps: 20,
          stepSize: 0.1,
          restarts: 1,
          start: 'uniform',
        });
        return { clean: acc(test.x), robust: acc(adv) };
      });

    const standard = fit(new PgdAtLoss(), 0); // eps 0: plain cross-entropy training
    const robust = fit(new PgdAtLoss({ steps: 3, stepSize: 0.5 }), eps);
    const s = robustAcc(standard);
    const r = robustAcc(robust);
    expect(s.clean).toBeGreaterThan(0.9);
    expect(r.clean).toBeGreaterThan(0.85);
    expect(r.robust).toBeGreaterThan(s.robust + 0.1);
    [standard, robust, init].forEach((n) => n.dispose());
    tf.dispose([train.x, train.y, test.x, test.y]);
    // eslint-disable-next-line no-console
    console.log(`standard: clean ${s.clean} robust ${s.robust}; pgd-at: clean ${r.clean} robust ${r.robust}`);
  });
});
