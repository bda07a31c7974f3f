// Falsification first (issue #17): targeted PGD on the property's own rows, with restarts,
// answers easy sat instances in seconds before any costly bound.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng, loadBackend } from '@certkd/core';
import { evalFlat, verifyProperty } from './verify';
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
