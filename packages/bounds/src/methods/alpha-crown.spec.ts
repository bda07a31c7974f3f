import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { boxAround, specMatrix } from '../box';
import { alphaCrown } from './alpha-crown';
import { crown } from './crown';

/** A random fully connected ReLU network 8 -> width x depth -> 4. */
function mlp(seed: number, depth: number, width = 24): Network {
  const layers = [];
  for (let k = 0; k < depth; k++) layers.push({ kind: 'dense' as const, units: width, useBias: true }, { kind: 'relu' as const });
  layers.push({ kind: 'dense' as const, units: 4, useBias: true });
  return Network.create({ inputShape: [8], layers }, new SeededRng(seed));
}

function problem(seed: number, n: number, eps: number) {
  const x = tf.randomUniform([n, 8], 0, 1, 'float32', seed);
  const box = boxAround(x, eps, -10, 10);
  const y = tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 4),
    'int32',
  );
  const C = specMatrix(y, 4);
  return { x, box, C, dispose: () => tf.dispose([x, box.lower, box.upper, y, C]) };
}

const sum = (t: tf.Tensor) => tf.tidy(() => tf.sum(t).dataSync()[0]);

describe('alphaCrown: slopes of every layer, schedule, early stop, budget', () => {
  it('is at least as tight as final-layer-only slopes and CROWN, and strictly tighter on deeper networks', () => {
    const gains: number[] = [];
    for (const [seed, depth] of [
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ] as const) {
      const net = mlp(seed, depth);
      const pr = problem(seed, 2, 0.15);
      const before = tf.memory().numTensors;
      const cr = crown(net, pr.box, { spec: pr.C });
      const lastOnly = alphaCrown(net, pr.box, { spec: pr.C, iterations: 20, intermediate: false });
      const full = alphaCrown(net, pr.box, { spec: pr.C, iterations: 20, intermediate: true, intermediateIterations: 20 });
      const dl = tf.tidy(() => tf.sub(full.lower, lastOnly.lower).dataSync());
      const dc = tf.tidy(() => tf.sub(full.lower, cr.lower).dataSync());
      // never looser than CROWN; not looser than last-layer slopes (up to the optimiser's noise)
      expect(Math.min(...dc)).toBeGreaterThanOrEqual(-1e-5);
      expect(sum(full.lower)).toBeGreaterThanOrEqual(sum(lastOnly.lower) - 1e-4 * Math.abs(sum(lastOnly.lower)));
      gains.push(sum(full.lower) - sum(lastOnly.lower));
      expect(Math.min(...dl)).toBeGreaterThan(-0.05 * Math.max(1, Math.max(...Array.from(dl, Math.abs))));
      tf.dispose([cr.lower, cr.upper, lastOnly.lower, lastOnly.upper, full.lower, full.upper]);
      expect(tf.memory().numTensors).toBe(before);
      pr.dispose();
      net.dispose();
    }
    // deeper networks (3+ hidden layers) gain from optimised intermediate bounds
    expect(Math.max(...gains.slice(1))).toBeGreaterThan(1e-3);
  }, 120000);

  it('is sound: every sampled output lies above the lower bound (per-spec and shared slopes)', () => {
    const net = mlp(7, 3);
    const pr = problem(7, 2, 0.2);
    for (const slopes of ['per-spec', 'shared'] as const) {
      const b = alphaCrown(net, pr.box, { spec: pr.C, iterations: 10, slopes });
      const lb = b.lower.arraySync() as number[][];
      const rng = new SeededRng(3);
      const lo = pr.box.lower.arraySync() as number[][];
      const hi = pr.box.upper.arraySync() as number[][];
      const Cs = pr.C.arraySync() as number[][][];
      for (let s = 0; s < 200; s++) {
        const xs = lo.map((l, i) => l.map((v, k) => v + (hi[i][k] - v) * rng.next()));
        const y = tf.tidy(() => net.predict(tf.tensor2d(xs)).arraySync() as number[][]);
        for (let i = 0; i < xs.length; i++) {
          Cs[i].forEach((row, m) => {
            const v = row.reduce((a, c, k) => a + c * y[i][k], 0);
            expect(v).toBeGreaterThanOrEqual(lb[i][m] - 1e-4);
          });
        }
      }
      tf.dispose([b.lower, b.upper]);
    }
    pr.dispose();
    net.dispose();
  });

  it('stops early once every row clears stopAbove, honours the deadline, and leaks nothing when interrupted', () => {
    const net = mlp(5, 3);
    const pr = problem(5, 1, 0.01);
    const before = tf.memory().numTensors;
    // A tiny box: CROWN already proves the rows above -1e3, so the loop stops at once.
    let t0 = Date.now();
    const quick = alphaCrown(net, pr.box, { spec: pr.C, iterations: 500, intermediate: false, stopAbove: -1e3, lowerOnly: true });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(Array.from(quick.upper.dataSync()).every((v) => v === Infinity)).toBe(true); // lowerOnly
    t0 = Date.now();
    const wide = problem(6, 1, 0.5);
    const cut = alphaCrown(net, wide.box, { spec: wide.C, iterations: 100000, deadlineMs: Date.now() + 300 });
    expect(Date.now() - t0).toBeLessThan(3000);
    let calls = 0;
    expect(() =>
      alphaCrown(net, wide.box, {
        spec: wide.C,
        iterations: 100000,
        interrupt: () => {
          if (++calls > 40) throw new Error('budget spent');
        },
      }),
    ).toThrow('budget spent');
    tf.dispose([quick.lower, quick.upper, cut.lower, cut.upper]);
    wide.dispose();
    expect(tf.memory().numTensors).toBe(before);
    pr.dispose();
    net.dispose();
  });

  it('bounds rows in chunks that fit a small memory budget with the same result', () => {
    const net = mlp(8, 2);
    const pr = problem(8, 2, 0.1);
    const a = alphaCrown(net, pr.box, { spec: pr.C, iterations: 5, lrDecay: 1 });
    const b = alphaCrown(net, pr.box, { spec: pr.C, iterations: 5, lrDecay: 1, memoryBudget: 64 * 1024 });
    const c = crown(net, pr.box, { spec: pr.C });
    const d = crown(net, pr.box, { spec: pr.C, memoryBudget: 16 * 1024 });
    // per-spec slopes make every row's optimisation independent of the others
    const close = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]);
    expect(close(a.lower, b.lower)).toBeLessThan(1e-4);
    expect(close(c.lower, d.lower)).toBeLessThan(1e-5);
    expect(close(c.upper, d.upper)).toBeLessThan(1e-5);
    tf.dispose([a.lower, a.upper, b.lower, b.upper, c.lower, c.upper, d.lower, d.upper]);
    expect(() => alphaCrown(net, pr.box, { spec: pr.C, lrDecay: 0 })).toThrow(/lrDecay/);
    expect(() => alphaCrown(net, pr.box, { spec: pr.C, slopes: 'each' as never })).toThrow(/slopes/);
    pr.dispose();
    net.dispose();
  });
});
