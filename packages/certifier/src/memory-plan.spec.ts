// Memory planning and time limits of the verifier (issue #17): bound calls fit a byte budget
// (methods that cannot fit even one row are skipped and named), and every phase stops within
// about a second of the deadline.
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { methodFits, methodRowBytes, optimisedPassBytes } from '@certkd/bounds';
import { evalFlat, verifyProperty } from './verify';
import { robustnessDisjuncts } from './property';

function mlp(seed: number, inputs: number, width: number, depth: number): Network {
  const layers = [];
  for (let k = 0; k < depth; k++) layers.push({ kind: 'dense' as const, units: width, useBias: true }, { kind: 'relu' as const });
  layers.push({ kind: 'dense' as const, units: 10, useBias: true });
  return Network.create({ inputShape: [inputs], layers }, new SeededRng(seed));
}

describe('memory planning', () => {
  it('estimates bytes from layer shapes and rows before allocating', () => {
    const net = mlp(1, 64, 32, 2);
    expect(methodRowBytes(net, 'ibp', 1)).toBe(0);
    expect(methodRowBytes(net, 'crown', 4)).toBe(4 * methodRowBytes(net, 'crown', 1));
    expect(optimisedPassBytes(net, 1, 10)).toBeGreaterThan(optimisedPassBytes(net, 1, 10, net.layers.length, true));
    expect(methodFits(net, 'alpha-crown', 1)).toBe(true);
    expect(methodFits(net, 'alpha-crown', 1, 1000)).toBe(false);
    net.dispose();
  });

  it('skips methods that do not fit the budget, names them, and still decides soundly', () => {
    const net = mlp(2, 16, 24, 2);
    const x = Float32Array.from({ length: 16 }, (_, i) => (i % 5) / 5);
    const y = evalFlat(net, x, 1);
    const label = y.indexOf(Math.max(...y));
    const box = { lower: x.map((v) => v - 1e-3), upper: x.map((v) => v + 1e-3) };
    const before = tf.memory().numTensors;
    // room for IBP only: crown and alpha-crown are skipped, IBP decides the tiny box
    const v = verifyProperty(net, { boxes: [box], disjuncts: robustnessDisjuncts(label, 10) }, { timeoutS: 10, memoryBudget: 1000, branchAndBound: false });
    expect(v.kind).toBe('verified-incomplete');
    expect(v.method).toBe('ibp');
    const w = verifyProperty(
      net,
      { boxes: [{ lower: x.map((v) => v - 0.3), upper: x.map((v) => v + 0.3) }], disjuncts: robustnessDisjuncts(label, 10) },
      { timeoutS: 10, memoryBudget: 1000, branchAndBound: false, pgdRestarts: 0 },
    );
    expect(w.skipped).toEqual(expect.arrayContaining(['crown', 'alpha-crown']));
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});

describe('time limits', () => {
  it.each([
    ['alpha-CROWN with many steps', { methods: ['alpha-crown' as const], alphaIterations: 100000, branchAndBound: false }],
    ['ReLU branch and bound', { methods: ['crown' as const], babMode: 'relu' as const }],
    ['input branch and bound', { methods: ['crown' as const], babMode: 'input' as const }],
  ])('%s stops within 1 s of the deadline and leaks nothing', (_, o) => {
    const net = mlp(3, 8, 64, 3);
    const x = Float32Array.from({ length: 8 }, (_, i) => (i + 1) / 9);
    const y = evalFlat(net, x, 1);
    const label = y.indexOf(Math.max(...y));
    // a wide box and a threshold just below the smallest sampled margin: hard to decide either way
    const lower = x.map((v) => v - 0.5);
    const upper = x.map((v) => v + 0.5);
    const rng = new SeededRng(9);
    const n = 2000;
    const xs = new Float32Array(n * 8);
    for (let i = 0; i < xs.length; i++) xs[i] = lower[i % 8] + rng.next();
    const ys = evalFlat(net, xs, n);
    let minMargin = Infinity;
    for (let s = 0; s < n; s++) for (let j = 0; j < 10; j++) if (j !== label) minMargin = Math.min(minMargin, ys[s * 10 + label] - ys[s * 10 + j]);
    const disjuncts = robustnessDisjuncts(label, 10).map((d) => d.map((r) => ({ ...r, d: minMargin - 0.05 })));
    const before = tf.memory().numTensors;
    const t0 = Date.now();
    const v = verifyProperty(net, { boxes: [{ lower, upper }], disjuncts }, { timeoutS: 2, pgdRestarts: 0, ...o });
    const took = (Date.now() - t0) / 1000;
    expect(took).toBeLessThan(3);
    if (v.kind === 'timeout') expect(v.time_s).toBeGreaterThanOrEqual(2);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});
