import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import { SeededRng } from '../rng/seeded-rng';
import { clipToBox, detach, linfBox, linfBoxFlat, signedGradientAscent, crossEntropyPerSample, BestTracker } from './index';

describe('shared tensor helpers', () => {
  it('linfBox clips to the range and checks eps and the range; linfBoxFlat agrees up to outward rounding', () => {
    const x = tf.tensor2d([[0.05, 0.5, 0.97]]);
    const b = linfBox(x, 0.1);
    expect(Array.from(b.lower.dataSync())).toEqual(Array.from(Float32Array.of(0, 0.4, 0.87)));
    expect(Array.from(b.upper.dataSync())).toEqual(Array.from(Float32Array.of(0.15, 0.6, 1)));
    const flat = linfBoxFlat(Float32Array.of(0.05, 0.5, 0.97), 0.1);
    // the nearest float32 to 0.4 lies above 0.4 (the tensor box shrinks there); the flat box steps outside
    expect(Math.fround(0.4)).toBeGreaterThan(0.4);
    expect(flat.lower[1]).toBeLessThan(0.4);
    expect(flat.lower[0]).toBe(0);
    expect(flat.upper[2]).toBe(1);
    const low = b.lower.dataSync();
    const up = b.upper.dataSync();
    for (let k = 0; k < 3; k++) {
      expect(flat.lower[k]).toBeLessThanOrEqual(low[k]);
      expect(flat.upper[k]).toBeGreaterThanOrEqual(up[k]);
      expect(low[k] - flat.lower[k]).toBeLessThanOrEqual(2 ** -24);
      expect(flat.upper[k] - up[k]).toBeLessThanOrEqual(2 ** -24);
    }
    expect(() => linfBox(x, -1)).toThrow(ConfigError);
    expect(() => linfBox(x, NaN)).toThrow(/eps/);
    expect(() => linfBox(x, 0.1, [1, 0])).toThrow(/range/);
    expect(() => linfBoxFlat(Float32Array.of(0), Infinity)).toThrow(/eps/);
    tf.dispose([x, b.lower, b.upper]);
  });

  it('detach cuts the gradient tape without reading the values back', () => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const spy = jest.spyOn(tf.Tensor.prototype, 'dataSync');
    try {
      const g = tf.grads((a: tf.Tensor) => tf.sum(tf.add(tf.mul(a, 2), detach(tf.mul(a, 3)))))([w]);
      expect(Array.from(g[0].dataSync())).toEqual([2, 2]);
      expect(spy).toHaveBeenCalledTimes(1); // the assertion's own read
      g[0].dispose();
    } finally {
      spy.mockRestore();
    }
    expect(() => tf.variableGrads(() => tf.sum(detach(tf.mul(w, 3))) as tf.Scalar, [w])).toThrow(/Cannot find a connection/);
    w.dispose();
  });

  it('crossEntropyPerSample is log-sum-exp minus the picked logit', () => {
    const v = tf.tidy(() => Array.from(crossEntropyPerSample(tf.tensor2d([[0, Math.log(3)]]), tf.tensor1d([1], 'int32')).dataSync()));
    expect(v[0]).toBeCloseTo(Math.log(4 / 3), 6);
  });

  it('BestTracker keeps the earlier point on ties', () => {
    const t = new BestTracker();
    t.offer(tf.tensor2d([[1], [2]]), tf.tensor1d([1, 5]));
    t.offer(tf.tensor2d([[3], [4]]), tf.tensor1d([1, 6]));
    expect(Array.from(t.x!.dataSync())).toEqual([1, 4]);
    expect(Array.from(t.value!.dataSync())).toEqual([1, 6]);
    t.dispose();
    expect(t.empty).toBe(true);
  });

  describe('signedGradientAscent', () => {
    // objective: -(x - 0.3)^2 per sample (maximum at 0.3), on a box [0, 1]^2
    const objective = (x: tf.Tensor) => tf.neg(tf.sum(tf.square(tf.sub(x, 0.3)), 1)) as tf.Tensor1D;
    const x = tf.tensor2d([
      [0.9, 0.1],
      [0.5, 0.5],
    ]);
    const box = { lower: tf.zerosLike(x), upper: tf.onesLike(x) };
    afterAll(() => tf.dispose([x, box.lower, box.upper]));

    it('climbs, stays in the box, is seeded, and leaks nothing', () => {
      const before = tf.memory().numTensors;
      const run = (seed: number) => signedGradientAscent(objective, x, box, new SeededRng(seed), { steps: 30, stepSize: 0.05, start: 'uniform', restarts: 2 });
      const a = run(4);
      const b = run(4);
      expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
      for (const v of a.x.dataSync()) expect(Math.abs(v - 0.3)).toBeLessThan(0.06);
      const inside = tf.tidy(() => Array.from(clipToBox(a.x, box).dataSync()));
      expect(inside).toEqual(Array.from(a.x.dataSync()));
      tf.dispose([a.x, a.value!, b.x, b.value!]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it("'clean' starts at x and uses no seed; steps 0 returns the start", () => {
      const rng = new SeededRng(1);
      const r = signedGradientAscent(objective, x, box, rng, { steps: 0, stepSize: 1, start: 'clean', needValue: false });
      expect(Array.from(r.x.dataSync())).toEqual(Array.from(x.dataSync()));
      expect(r.value).toBeUndefined();
      expect(rng.nextSeed()).toBe(new SeededRng(1).nextSeed());
      r.x.dispose();
    });

    it('without the start, one step returns the point it reaches, without evaluating it', () => {
      let calls = 0;
      const counted = (xi: tf.Tensor) => {
        calls++;
        return objective(xi);
      };
      const r = signedGradientAscent(counted, x, box, new SeededRng(2), { steps: 1, stepSize: 10, start: 'uniform', includeStart: false, needValue: false });
      expect(calls).toBe(1); // the gradient at the start only
      // a step of 10 half-widths lands on a vertex: the sign of the gradient at the start decides which
      for (const v of r.x.dataSync()) expect(v === 0 || v === 1).toBe(true);
      r.x.dispose();
    });

    it('refuses bad settings', () => {
      expect(() => signedGradientAscent(objective, x, box, new SeededRng(1), { steps: -1, stepSize: 1, start: 'clean' })).toThrow(/steps/);
      expect(() => signedGradientAscent(objective, x, box, new SeededRng(1), { steps: 0, stepSize: 1, start: 'clean', includeStart: false })).toThrow(
        /steps must be an integer >= 1/,
      );
      expect(() => signedGradientAscent(objective, x, box, new SeededRng(1), { steps: 1, restarts: 0, stepSize: 1, start: 'clean' })).toThrow(/restarts/);
      expect(() => signedGradientAscent(objective, x, box, new SeededRng(1), { steps: 1, stepSize: 0, start: 'clean' })).toThrow(/stepSize/);
    });
  });
});
