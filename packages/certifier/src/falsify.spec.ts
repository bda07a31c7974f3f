// Falsification first (issue #17): targeted PGD on the property's own rows, with restarts,
// answers easy sat instances in seconds before any costly bound.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng, loadBackend } from '@certkd/core';
import { evalFlat, verifyProperty } from './verify';
import { pgd } from './falsify';
import type { Ctx } from './verify-context';
import { verifyVnnlib } from './vnnlib';
import type { OutputRow } from './verdict';
import { describeWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

describe('targeted falsifier', () => {
  it('finds a counterexample of a targeted conjunction (one class beating all others by a margin) that the clean check misses', () => {
    // A random network; the unsafe region asks for a class other than the centre's to win by a
    // margin that only part of the box reaches.
    const net = Network.create(
      { inputShape: [6], layers: [{ kind: 'dense', units: 32, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 4, useBias: true }] },
      new SeededRng(11),
    );
    const c = Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5, 0.5);
    const y = evalFlat(net, c, 1);
    const label = y.indexOf(Math.max(...y));
    const target = (label + 1) % 4;
    // the largest margin by which `target` beats every other class on a dense sample of the box
    const box = { lower: c.map((v) => v - 0.4), upper: c.map((v) => v + 0.4) };
    const rng = new SeededRng(5);
    let best = -Infinity;
    const n = 4000;
    const xs = new Float32Array(n * 6);
    for (let i = 0; i < xs.length; i++) xs[i] = box.lower[i % 6] + 0.8 * rng.next();
    const ys = evalFlat(net, xs, n);
    for (let s = 0; s < n; s++) {
      const o = ys.subarray(s * 4, s * 4 + 4);
      best = Math.max(best, Math.min(...[0, 1, 2, 3].filter((j) => j !== target).map((j) => o[target] - o[j])));
    }
    // unsafe: y_target - y_j >= m for every j (rows c = e_j - e_target, d = -m), m just below what sampling reached
    const m = best > 0 ? best * 0.9 : best + 0.1 * Math.abs(best);
    const conj: OutputRow[] = [0, 1, 2, 3]
      .filter((j) => j !== target)
      .map((j) => {
        const row = [0, 0, 0, 0];
        row[j] = 1;
        row[target] = -1;
        return { c: row, d: -m };
      });
    const before = tf.memory().numTensors;
    const v = verifyProperty(net, { boxes: [box], disjuncts: [conj] }, { timeoutS: 20, methods: ['ibp'], branchAndBound: false, rng: new SeededRng(1) });
    expect(v.kind).toBe('falsified');
    expect(v.method).toBe('pgd');
    expect(v.time_s).toBeLessThan(10);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});

describe('projected-gradient starts', () => {
  it('given starts replace random ones (the attack inside branch and bound weakest domains)', () => {
    const net = Network.create(
      { inputShape: [6], layers: [{ kind: 'dense', units: 16, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 3, useBias: true }] },
      new SeededRng(21),
    );
    const lo = new Float32Array(6).fill(0),
      hi = new Float32Array(6).fill(1);
    // the lowest of 3000 sampled values of y0 - y1: a point that random starts do not reach
    const rng = new SeededRng(3);
    const xs = Float32Array.from({ length: 3000 * 6 }, () => rng.next());
    const ys = evalFlat(net, xs, 3000);
    let best = 0;
    for (let s = 1; s < 3000; s++) if (ys[s * 3] - ys[s * 3 + 1] < ys[best * 3] - ys[best * 3 + 1]) best = s;
    const xStar = xs.slice(best * 6, best * 6 + 6);
    const dStar = ys[best * 3] - ys[best * 3 + 1] + 1e-4;
    // two disjuncts: the reachable-only-near-xStar one second
    const disjuncts: OutputRow[][] = [[{ c: [0, 0, 1], d: -1e6 }], [{ c: [1, -1, 0], d: dStar }]];
    const ctx = {
      net,
      inShape: [6],
      D: 6,
      K: 3,
      disjuncts,
      offsets: [0, 1],
      R: 2,
      Cflat: Float32Array.of(0, 0, 1, 1, -1, 0),
      dvec: Float32Array.of(-1e6, dStar),
      d64: Float64Array.of(-1e6, dStar),
      rng: new SeededRng(9),
      deadline: Date.now() + 60_000,
    } as unknown as Ctx;
    const before = tf.memory().numTensors;
    const box = () => ({ lower: lo, upper: hi });
    // no steps: only the starting points are tried
    expect(pgd(ctx, lo, hi, 1, 8, 0, box).witness).toBeNull();
    const found = pgd(ctx, lo, hi, 1, 8, 0, box, [{ x: xStar, disjunct: 1 }]).witness;
    expect(found?.disjunct).toBe(1);
    expect(Array.from(found?.x ?? [])).toEqual(Array.from(xStar));
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});

const MC = sharedPath('vnncomp', '2021', 'marabou-cifar10');
const NET = path.join(MC, 'nets', 'cifar10_small.onnx');
// instances every published tool that answered calls sat (a-b-CROWN, VeriNet, ERAN: violated)
const SAT = [
  'networkcifar10_small_index1783_eps0.012_target9_orig8.vnnlib.gz',
  'networkcifar10_small_index6413_eps0.012_target7_orig6.vnnlib.gz',
  'networkcifar10_small_index1442_eps0.024_target4_orig3.vnnlib.gz',
];

describeWithData([NET, ...SAT.map((s) => path.join(MC, 'specs', s))], 'marabou-cifar10 cifar10_small sat instances (wasm backend, as the bench runs)', () => {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await loadBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend(previous);
  });
  it.each(SAT)(
    '%s: sat found by the falsifier within 20 s (published tools: under 7 s)',
    (spec) => {
      const r = verifyVnnlib(NET, path.join(MC, 'specs', spec), { timeoutS: 20, methods: ['ibp'], branchAndBound: false });
      expect(r.result).toBe('sat');
      expect(r.verdict.method).toBe('pgd');
      expect(r.counterexample).toMatch(/^\(\(X_0 /);
    },
    60000,
  );
});
