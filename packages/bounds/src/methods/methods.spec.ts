import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { ConfigError, Network, NetworkSpec, SeededRng, UnsupportedLayerError } from '@certkd/core';
import { boxAround, specMatrix } from '../box';
import { relaxationSet, builtinRelaxations } from '../relaxations/default-set';
import { alphaCrown } from './alpha-crown';
import { crown, crownIbp } from './crown';
import { ibp } from './ibp';
import { buildConformanceNetwork } from '../conformance/networks';

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

describe('ibp', () => {
  it('matches a hand computation with fused centre/radius', () => {
    // x in [0,1]^2; h = relu([x1 - x2, x1 + x2 - 1]); out = h1 + 2 h2
    const spec: NetworkSpec = {
      inputShape: [2],
      layers: [{ kind: 'dense', units: 2, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 1, useBias: false }],
    };
    const net = Network.fromTensors(
      spec,
      new Map<string, tf.Tensor>([
        [
          'layers.0.kernel',
          tf.tensor2d([
            [1, 1],
            [-1, 1],
          ]),
        ],
        ['layers.0.bias', tf.tensor1d([0, -1])],
        ['layers.2.kernel', tf.tensor2d([[1], [2]])],
      ]),
    );
    const box = { lower: tf.zeros([1, 2]), upper: tf.ones([1, 2]) };
    const pre = ibp(net, box, { end: 1 });
    expect(arr(pre.lower)).toEqual([-1, -1]);
    expect(arr(pre.upper)).toEqual([1, 1]);
    const out = ibp(net, box);
    expect(arr(out.lower)).toEqual([0]);
    expect(arr(out.upper)).toEqual([3]);
    // CROWN-IBP: relu(a) <= (a + 1) / 2 on [-1, 1], lower slope 0 (u = -l, so a = 0).
    const ci = crownIbp(net, box);
    expect(arr(ci.lower)[0]).toBeCloseTo(0, 6);
    expect(arr(ci.upper)[0]).toBeCloseTo(2.5, 5); // (x1-x2+1)/2 + (x1+x2) <= 2.5 at x = (1, 0) or (1,1)
    tf.dispose([pre.lower, pre.upper, out.lower, out.upper, ci.lower, ci.upper, box.lower, box.upper]);
    net.dispose();
  });

  it('elides the final layer: spec bounds tighter than C applied to the logit interval', () => {
    const c = buildConformanceNetwork('mlp-deep', 3);
    const x = tf.randomUniform([3, 4], 0, 1, 'float32', 1);
    const box = boxAround(x, 0.1);
    const y = tf.tensor1d([0, 1, 2], 'int32');
    const C = specMatrix(y, 3);
    const withSpec = ibp(c.net, box, { spec: C });
    const logits = ibp(c.net, box);
    const naiveLower = tf.tidy(() => {
      const cp = tf.relu(C);
      const cn = tf.minimum(C, 0);
      const l = tf.expandDims(logits.lower, 1);
      const u = tf.expandDims(logits.upper, 1);
      return tf.sum(tf.add(tf.mul(cp, l), tf.mul(cn, u)), 2);
    });
    const d = arr(withSpec.lower).map((v, i) => v - arr(naiveLower)[i]);
    expect(Math.min(...d)).toBeGreaterThanOrEqual(-1e-5);
    expect(Math.max(...d)).toBeGreaterThan(1e-3);
    tf.dispose([x, box.lower, box.upper, y, C, withSpec.lower, withSpec.upper, logits.lower, logits.upper, naiveLower]);
    c.dispose();
  });

  it('is differentiable w.r.t. parameters (ibp and crownIbp) and leaks nothing', () => {
    const c = buildConformanceNetwork('cnn-strided-train-bn', 5);
    const x = tf.randomUniform([2, 5, 5, 1], 0, 1, 'float32', 2);
    const box = boxAround(x, 0.05);
    const y = tf.tensor1d([1, 3], 'int32');
    const C = specMatrix(y, 4);
    const before = tf.memory().numTensors;
    for (const fn of [ibp, crownIbp]) {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(fn(c.net, box, { mode: 'train', bnStats: c.bnStats, spec: C }).lower)) as tf.Scalar);
      const kernel = Object.entries(grads).find(([k]) => k.startsWith('layers.1.kernel'));
      expect(kernel).toBeDefined();
      const g = arr(kernel![1]);
      expect(g.every(Number.isFinite)).toBe(true);
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, box.lower, box.upper, y, C]);
    c.dispose();
  });

  it('names the layer kind and the fix when no relaxation covers a layer', () => {
    const c = buildConformanceNetwork('mlp-deep', 1);
    const box = { lower: tf.zeros([1, 4]), upper: tf.ones([1, 4]) };
    const noRelu = relaxationSet(builtinRelaxations().filter((r) => r.layerKind !== 'relu'));
    for (const fn of [ibp, crownIbp, crown, alphaCrown]) {
      expect(() => fn(c.net, box, { relaxations: noRelu })).toThrow(UnsupportedLayerError);
      expect(() => fn(c.net, box, { relaxations: noRelu })).toThrow(/layer kind 'relu'.*layer 2.*docs\/plugins\/relaxation\.md/);
    }
    tf.dispose([box.lower, box.upper]);
    c.dispose();
  });

  it('rejects bad options with ConfigError', () => {
    const c = buildConformanceNetwork('cnn-strided-train-bn', 1);
    const box = { lower: tf.zeros([1, 5, 5, 1]), upper: tf.ones([1, 5, 5, 1]) };
    const C = tf.zeros([1, 3, 4]) as tf.Tensor3D;
    expect(() => ibp(c.net, box, { mode: 'train' })).toThrow(/batch statistics for BatchNorm layer 2/);
    expect(() => ibp(c.net, box, { spec: C, end: 3, mode: 'train', bnStats: c.bnStats })).toThrow(/only valid when bounding the network output/);
    expect(() => ibp(c.net, box, { end: 99 })).toThrow(ConfigError);
    expect(() => ibp(c.net, { lower: tf.zeros([1, 4]), upper: tf.zeros([1, 4]) })).toThrow(/expected \[N, 5, 5, 1\]/);
    expect(() => alphaCrown(c.net, box, { iterations: -1 })).toThrow(/iterations/);
    tf.dispose([box.lower, box.upper, C]);
    c.dispose();
  });
});

describe('linear networks', () => {
  it('CROWN is exact on a network without activations (conv transposes, avgpool, BN, normalise)', () => {
    const spec: NetworkSpec = {
      inputShape: [7, 6, 2],
      layers: [
        { kind: 'normalize', mean: [0.4, 0.6], std: [0.2, 0.3] },
        { kind: 'conv2d', filters: 3, kernelSize: [3, 2], strides: [2, 2], padding: 'same', useBias: true },
        { kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 },
        {
          kind: 'conv2d',
          filters: 2,
          kernelSize: [2, 2],
          strides: [1, 1],
          padding: [
            [0, 1],
            [1, 0],
          ],
          useBias: true,
        },
        { kind: 'avgpool', poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
        { kind: 'flatten' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    };
    const net = Network.create(spec, new SeededRng(4));
    net.param(2, 'gamma').assign(tf.tensor1d([-1.2, 0.5, 2]));
    const x = tf.randomUniform([2, 7, 6, 2], 0, 1, 'float32', 9);
    const box = boxAround(x, 0.1);
    const b = crownIbp(net, box);
    // Exact extremes of each (linear) output are at the vertex picked by the gradient sign.
    for (let j = 0; j < 3; j++) {
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(net.predict(xx), [0, j], [-1, 1])))(x);
      const xmin = tf.where(tf.greater(g, 0), box.lower, box.upper);
      const xmax = tf.where(tf.greater(g, 0), box.upper, box.lower);
      const fmin = arr(tf.slice(net.predict(xmin), [0, j], [-1, 1]));
      const fmax = arr(tf.slice(net.predict(xmax), [0, j], [-1, 1]));
      const lo = arr(tf.slice(b.lower, [0, j], [-1, 1]));
      const hi = arr(tf.slice(b.upper, [0, j], [-1, 1]));
      for (let s = 0; s < 2; s++) {
        expect(lo[s]).toBeCloseTo(fmin[s], 3);
        expect(hi[s]).toBeCloseTo(fmax[s], 3);
      }
    }
    net.dispose();
  });
});

describe('soundness on random MLPs (property)', () => {
  it('every method contains random points of the box', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0.01, max: 0.5, noNaN: true }), (seed, eps) => {
        const result = tf.tidy(() => {
          const rng = new SeededRng(seed);
          const net = Network.create(
            {
              inputShape: [3],
              layers: [
                { kind: 'dense', units: 5, useBias: true },
                { kind: 'relu' },
                { kind: 'dense', units: 4, useBias: true },
                { kind: 'relu' },
                { kind: 'dense', units: 2, useBias: true },
              ],
            },
            rng,
          );
          const x = tf.randomUniform([1, 3], 0, 1, 'float32', rng.nextSeed());
          const box = boxAround(x, eps);
          const pts = tf.add(box.lower, tf.mul(tf.sub(box.upper, box.lower), tf.randomUniform([200, 3], 0, 1, 'float32', rng.nextSeed())));
          const out = net.predict(pts);
          let ok = true;
          for (const fn of [ibp, crownIbp, crown, alphaCrown]) {
            const b = fn(net, box);
            const below = tf.max(tf.sub(b.lower, out)).dataSync()[0];
            const above = tf.max(tf.sub(out, b.upper)).dataSync()[0];
            ok = ok && below <= 1e-4 && above <= 1e-4;
          }
          net.dispose();
          return ok;
        });
        return result;
      }),
      { numRuns: 15, seed: 42 },
    );
  });
});
