import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyPerSample, SeededRng } from '@certkd/core';
import { boxAround } from '@certkd/bounds';
import { randomStartPgd } from './training-attack';
import { tinyNet, X, Y } from './__fixtures__/tiny-net';

describe('built-in training attack', () => {
  const net = tinyNet(true);
  afterAll(() => net.dispose());

  it('1 step of size 10 from a random start lands on a vertex of the box', () => {
    const [adv, lo, hi] = tf.tidy(() => {
      const box = boxAround(tf.tensor2d(X), 0.05);
      const a = randomStartPgd(net, tf.tensor1d(Y, 'int32'), box, new SeededRng(3), { steps: 1, stepSize: 10 });
      return [a.arraySync() as number[][], box.lower.arraySync() as number[][], box.upper.arraySync() as number[][]];
    });
    adv.forEach((row, n) =>
      row.forEach((v, i) => {
        const onVertex = Math.abs(v - lo[n][i]) < 1e-6 || Math.abs(v - hi[n][i]) < 1e-6;
        expect(onVertex).toBe(true);
      }),
    );
  });

  it('is deterministic given the seed, stays in the box, and multi-step keeps the best iterate', () => {
    const run = (seed: number, steps: number) =>
      tf.tidy(() => {
        const x = tf.tensor2d(X);
        const y = tf.tensor1d(Y, 'int32');
        const box = boxAround(x, 0.2);
        const a = randomStartPgd(net, y, box, new SeededRng(seed), { steps, stepSize: 0.25 });
        const inside = tf.logicalAnd(tf.greaterEqual(a, tf.sub(box.lower, 1e-7)), tf.lessEqual(a, tf.add(box.upper, 1e-7))).dataSync();
        return { x: a.arraySync() as number[][], inside: Array.from(inside), loss: Array.from(crossEntropyPerSample(net.predict(a), y).dataSync()) };
      });
    const a = run(5, 4);
    expect(run(5, 4).x).toEqual(a.x);
    expect(a.inside.every((b) => b === 1)).toBe(true);
    const clean = tf.tidy(() => Array.from(crossEntropyPerSample(net.predict(tf.tensor2d(X)), tf.tensor1d(Y, 'int32')).dataSync()));
    // ascent on a 3-class piecewise-linear net from inside a wide box raises the mean loss
    expect(a.loss.reduce((s, v) => s + v, 0)).toBeGreaterThan(clean.reduce((s, v) => s + v, 0));
  });

  it('rejects bad settings', () => {
    const box = boxAround(tf.tensor2d(X), 0.1);
    expect(() => randomStartPgd(net, tf.tensor1d(Y, 'int32'), box, new SeededRng(1), { steps: 0, stepSize: 1 })).toThrow(/attackSteps/);
    tf.dispose([box.lower, box.upper]);
  });
});
