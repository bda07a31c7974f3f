// Floating-point soundness (issue #17): a verified claim must survive the rounding re-check.
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng, exactBinary } from '@certkd/core';
import { crown, ibp, roundingErrorBound } from '@certkd/bounds';
import { evalFlat, verifyProperty } from './verify';
import { Net64 } from './recheck64';
import { robustnessDisjuncts } from './property';
import type { OutputRow } from './verdict';

/**
 * h = [1e8 x1 + 2 x2, x3] (optionally through a ReLU), y = h1 - 1e8 h2: exactly y = 2 at
 * x = (1, 1, 1), but the float32 activation h1 = 1e8 + 2 rounds to 1e8 (float32 numbers near
 * 1e8 are 8 apart) whatever the backend's accumulation precision, so float32 gives y = 0.
 */
function cancelling(relu: boolean): Network {
  const layers = [
    { kind: 'dense' as const, units: 2, useBias: false },
    ...(relu ? [{ kind: 'relu' as const }] : []),
    { kind: 'dense' as const, units: 1, useBias: false },
  ];
  return Network.fromTensors(
    { inputShape: [3], layers },
    new Map<string, tf.Tensor>([
      ['layers.0.kernel', tf.tensor2d([1e8, 0, 2, 0, 0, 1], [3, 2])],
      [`layers.${relu ? 2 : 1}.kernel`, tf.tensor2d([1, -1e8], [2, 1])],
    ]),
  );
}

describe('rounding re-check of verified claims', () => {
  it('refuses a claim that float32 rounding makes look verified (a margin of 2e-8 relative to the weights) and counts it', () => {
    const net = cancelling(true);
    const x = Float32Array.of(1, 1, 1);
    const y32 = evalFlat(net, x, 1)[0];
    expect(y32).not.toBe(2); // the float32 network output is wrong (precondition of the test)
    // unsafe region: y >= 1 (-y <= -1); truly reached (y = 2), so 'verified' would be wrong
    const disjuncts: OutputRow[][] = [[{ c: [-1], d: -1 }]];
    const box = { lower: x.slice(), upper: x.slice() };
    // the naive float32 bound claims the property: its lower bound of -y exceeds d = -1
    // (the hidden ReLU keeps the spec from being folded into the first layer's weights)
    const b = tf.tidy(() => ibp(net, { lower: tf.tensor2d(x, [1, 3]), upper: tf.tensor2d(x, [1, 3]) }).upper.dataSync()[0]);
    expect(-b).toBeGreaterThan(-1);
    const v = verifyProperty(net, { boxes: [box], disjuncts }, { timeoutS: 10, methods: ['ibp', 'crown'], branchAndBound: false, pgdRestarts: 0 });
    expect(v.kind).toBe('unknown');
    expect(v.downgraded).toBeGreaterThanOrEqual(1);
    net.dispose();
  });

  it('refuses it under branch and bound too (input and ReLU splitting)', () => {
    const net = cancelling(true);
    const x = Float32Array.of(1, 1, 1);
    expect(evalFlat(net, x, 1)[0]).not.toBe(2);
    const disjuncts: OutputRow[][] = [[{ c: [-1], d: -1 }]];
    for (const babMode of ['input', 'relu'] as const) {
      const v = verifyProperty(
        net,
        { boxes: [{ lower: x.slice(), upper: x.slice() }], disjuncts },
        { timeoutS: 3, methods: ['ibp', 'crown'], babMode, pgdRestarts: 0 },
      );
      expect(['unknown', 'timeout']).toContain(v.kind);
      expect(v.downgraded ?? 0).toBeGreaterThanOrEqual(1);
    }
    net.dispose();
  });

  it('keeps verdicts whose margin clears the error bound (no false downgrades on ordinary networks)', () => {
    const net = Network.create(
      { inputShape: [4], layers: [{ kind: 'dense', units: 16, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 3, useBias: true }] },
      new SeededRng(4),
    );
    const c = Float32Array.of(0.3, 0.6, 0.2, 0.9);
    const y = evalFlat(net, c, 1);
    const label = y.indexOf(Math.max(...y));
    const disjuncts = robustnessDisjuncts(label, 3);
    const box = { lower: c.map((v) => v - 1e-3), upper: c.map((v) => v + 1e-3) };
    const v = verifyProperty(net, { boxes: [box], disjuncts }, { timeoutS: 10, methods: ['crown'] });
    expect(v.kind).toBe('verified-incomplete');
    expect(v.downgraded).toBeUndefined();
    net.dispose();
  });

  it('bounds the actual float32 error: float32 CROWN/IBP vs float64 interval arithmetic on random networks', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const net = Network.create(
        {
          inputShape: [6],
          layers: [
            { kind: 'dense', units: 32, useBias: true },
            { kind: 'relu' },
            { kind: 'dense', units: 32, useBias: true },
            { kind: 'relu' },
            { kind: 'dense', units: 2, useBias: true },
          ],
        },
        new SeededRng(seed),
      );
      // a point box: every bound equals the network output, computed exactly in float64 here
      const rng = new SeededRng(50 + seed);
      const x = Float32Array.from({ length: 6 }, () => rng.next());
      const params = [...net.namedParams()].map(([, t]) => Array.from(t.dataSync()));
      const [w0, b0, w1, b1, w2, b2] = params;
      const dense = (v: number[], w: number[], b: number[], out: number) =>
        Array.from({ length: out }, (_, j) => v.reduce((s, xi, i) => s + xi * w[i * out + j], b[j]));
      const h1 = dense(Array.from(x), w0, b0, 32).map((v) => Math.max(0, v));
      const h2 = dense(h1, w1, b1, 32).map((v) => Math.max(0, v));
      const yExact = dense(h2, w2, b2, 2);
      const rb = roundingErrorBound(net, { lower: x, upper: x });
      const c = [1, -1];
      const exact = yExact[0] - yExact[1];
      const spec = tf.tensor3d([[c]]);
      const box = { lower: tf.tensor2d(x, [1, 6]), upper: tf.tensor2d(x, [1, 6]) };
      for (const fn of [ibp, crown]) {
        const lb = tf.tidy(() => fn(net, box, { spec }).lower.dataSync()[0]);
        expect(lb - exact).toBeLessThanOrEqual(rb.rowSlack(c)); // the float32 bound exceeds the truth by less than the slack
      }
      expect(rb.rowSlack(c)).toBeLessThan(0.1); // and the slack stays small for ordinary weights
      tf.dispose([spec, box.lower, box.upper]);
      net.dispose();
    }
  });

  describe('convolutional networks (float64 form with expanded convolutions, BatchNorm and pooling)', () => {
    const cnn = (seed: number) => {
      const net = Network.create(
        {
          inputShape: [8, 8, 2],
          layers: [
            { kind: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
            { kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 },
            { kind: 'relu' },
            { kind: 'conv2d', filters: 3, kernelSize: [2, 2], strides: [1, 1], padding: 'valid', useBias: false },
            { kind: 'relu' },
            { kind: 'avgpool', poolSize: [2, 2], strides: [1, 1], padding: 'valid' },
            { kind: 'flatten' },
            { kind: 'dense', units: 3, useBias: true },
          ],
        },
        new SeededRng(seed),
      );
      // non-trivial running statistics, as a trained network has
      const rng = new SeededRng(seed + 100);
      net.param(1, 'movingMean').assign(tf.tensor1d(Array.from({ length: 4 }, () => rng.next() - 0.5)));
      net.param(1, 'movingVariance').assign(tf.tensor1d(Array.from({ length: 4 }, () => 0.2 + rng.next())));
      net.param(1, 'gamma').assign(tf.tensor1d(Array.from({ length: 4 }, () => 0.5 + rng.next())));
      return net;
    };
    const point = (seed: number) => {
      const rng = new SeededRng(seed);
      return Float32Array.from({ length: 128 }, () => rng.next());
    };

    it('computes the network exactly on a point and soundly on a box (sampled)', () => {
      for (let seed = 1; seed <= 3; seed++) {
        const net = cnn(seed);
        const n64 = Net64.from(net)!;
        expect(n64).not.toBeNull();
        const x = point(seed);
        const y = evalFlat(net, x, 1);
        const rows = [
          [1, -1, 0],
          [0, 1, -1],
        ];
        const at = Float64Array.from(x);
        const exact = n64.rowLower(rows, at, at, n64.bounds(at, at)!);
        rows.forEach((c, r) => expect(Math.abs(exact[r] - (y[0] * c[0] + y[1] * c[1] + y[2] * c[2]))).toBeLessThan(1e-4));
        const eps = 0.05;
        const lo = Float64Array.from(x, (v) => v - eps);
        const hi = Float64Array.from(x, (v) => v + eps);
        const lbs = n64.rowLower(rows, lo, hi, n64.bounds(lo, hi)!);
        // CROWN intermediate bounds (the re-check's second try on a convolutional network) are sound and at least as tight.
        const tight = n64.rowLower(rows, lo, hi, n64.bounds(lo, hi, { crown: true })!);
        rows.forEach((_, r) => expect(tight[r]).toBeGreaterThanOrEqual(lbs[r] - 1e-9));
        const rng = new SeededRng(seed + 7);
        for (let k = 0; k < 200; k++) {
          const xs = Float32Array.from(x, (v) => v + eps * (2 * rng.next() - 1));
          const ys = evalFlat(net, xs, 1);
          rows.forEach((c, r) => expect(Math.max(lbs[r], tight[r])).toBeLessThanOrEqual(ys[0] * c[0] + ys[1] * c[1] + ys[2] * c[2] + 1e-5));
        }
        net.dispose();
      }
    });

    it('lets a clear claim on a BatchNorm CNN stand (the a priori float32 slack refused every one)', () => {
      const net = cnn(2);
      const x = point(5);
      const y = evalFlat(net, x, 1);
      const label = y.indexOf(Math.max(...y));
      const disjuncts = robustnessDisjuncts(label, 3);
      const box = { lower: x.map((v) => v - 1e-4), upper: x.map((v) => v + 1e-4) };
      const v = verifyProperty(net, { boxes: [box], disjuncts }, { timeoutS: 10, methods: ['ibp'] });
      expect(v.kind).toBe('verified-incomplete');
      expect(v.downgraded).toBeUndefined();
      // The same network's weights changed: the cached float64 form is not reused.
      const before = Net64.from(net);
      net.param(7, 'bias').assign(tf.tensor1d([5, -5, 0]));
      expect(Net64.from(net)).not.toBe(before);
      net.dispose();
    });
  });
  it('contains the exact output of a BatchNorm whose shift beta - mean * s cancels (float64 re-check and float32 slack)', () => {
    // y = s x + beta - mean * s with s = gamma / sqrt(var + eps), at x = 0: y = beta - mean * s, whose
    // two terms (about 1e6) nearly cancel. The exact value, in integers scaled by 2^1074: with
    // R = floor(sqrt(var + eps) 2^1074), T = beta - mean gamma / R (a 2^-1000 relative error at most).
    const X = 1n << 1074n;
    const isqrt = (n: bigint) => {
      let x = BigInt(Math.ceil(Math.sqrt(Number(n >> 2000n)) * (1 + 1e-9))) << 1000n; // above the root: Newton descends to it
      for (;;) {
        const y = (x + n / x) >> 1n;
        if (y >= x) return x;
        x = y;
      }
    };
    const rng = new SeededRng(17);
    const at = Float64Array.of(0);
    let spread = 0;
    for (let trial = 0; trial < 200; trial++) {
      const gamma = Math.fround(0.5 + rng.next());
      const variance = Math.fround(0.1 + 3 * rng.next());
      const mean = Math.fround((rng.next() - 0.5) * 2e6);
      const beta = Math.fround((mean * gamma) / Math.sqrt(variance + 1e-3) + (rng.next() - 0.5) * 0.1);
      const net = Network.fromTensors(
        { inputShape: [1], layers: [{ kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 }] },
        new Map<string, tf.Tensor>([
          ['layers.0.gamma', tf.tensor1d([gamma])],
          ['layers.0.beta', tf.tensor1d([beta])],
          ['layers.0.movingMean', tf.tensor1d([mean])],
          ['layers.0.movingVariance', tf.tensor1d([variance])],
        ]),
      );
      const R = isqrt((exactBinary(variance) + exactBinary(1e-3)) * X);
      const T = exactBinary(beta) - (exactBinary(mean) * exactBinary(gamma)) / R;
      const tol = 1n << 200n; // the fixed-point approximation, far below any float64 step here
      const n64 = Net64.from(net)!;
      const b = n64.bounds(at, at)!;
      const [lower, negUpper] = n64.rowLower([[1], [-1]], at, at, b);
      expect(exactBinary(lower) <= T + tol).toBe(true);
      expect(exactBinary(-negUpper) >= T - tol).toBe(true);
      spread = Math.max(spread, -negUpper - lower);
      // the float32 network's output is within the a priori float32 slack of the exact value
      const y32 = evalFlat(net, Float32Array.of(0), 1)[0];
      const slack = roundingErrorBound(net, { lower: [0], upper: [0] }).rowSlack([1]);
      const diff = exactBinary(y32) - T;
      expect((diff < 0n ? -diff : diff) <= exactBinary(slack) + tol).toBe(true);
      net.dispose();
    }
    // the bounds are as wide as the cancelled terms' rounding (about 1e6 * 2^-52), not the shift's
    expect(spread).toBeGreaterThan(1e-10);
    expect(spread).toBeLessThan(1e-6);
  });
});
