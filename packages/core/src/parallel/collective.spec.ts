import * as tf from '@tensorflow/tfjs-core';
import '../index';
import { Collective, batchMean, batchMoments, batchRandomUniform, batchSum, splitBatch, withCollective } from './collective';

/** A stand-in for `size` workers that all hold the same rows as this one (so sums are size x the local ones). */
function mirrored(size: number, localBatch: number, offset = 0): Collective & { calls: number } {
  return {
    rank: 0,
    size,
    offset,
    globalBatch: size * localBatch,
    calls: 0,
    sumAcross(values: Float32Array) {
      this.calls++;
      return values.map((v) => v * size);
    },
  };
}

const close = (a: tf.Tensor, b: tf.Tensor) => expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);

describe('batch helpers', () => {
  const x = tf.tensor4d(
    Array.from({ length: 2 * 3 * 3 * 2 }, (_, i) => Math.sin(i)),
    [2, 3, 3, 2],
  );
  afterAll(() => x.dispose());

  it('are the plain tfjs reductions without a collective', () => {
    tf.tidy(() => {
      close(batchMean(x), tf.mean(x));
      close(batchSum(x), tf.sum(x));
      const m = batchMoments(x, [0, 1, 2]);
      const r = tf.moments(x, [0, 1, 2]);
      close(m.mean, r.mean);
      close(m.variance, r.variance);
      close(batchRandomUniform([2, 3], 0, 1, 7), tf.randomUniform([2, 3], 0, 1, 'float32', 7));
    });
  });

  it('reduce over the global batch, and the summed gradients are those of the whole batch', () => {
    const c = mirrored(2, 2);
    tf.tidy(() =>
      withCollective(c, () => {
        // Two workers holding the same rows: the global mean and moments equal the local ones.
        close(batchMean(x), tf.mean(x));
        close(batchSum(x), tf.mul(tf.sum(x), 2));
        const m = batchMoments(x, [0, 1, 2]);
        const r = tf.moments(x, [0, 1, 2]);
        close(m.mean, r.mean);
        close(m.variance, r.variance);
        // Each worker differentiates 1/size of the global loss; its gradient exchange sums the
        // workers' upstream gradients. d(mean over 2 x 36 elements)/dx_i = 1/72 per copy.
        const g = tf.grad((t: tf.Tensor) => tf.mul(batchMean(t), 0.5))(x);
        close(g, tf.fill(x.shape, 1 / 72));
        // Variance through the exchange: matches the gradient of the plain variance of the
        // doubled batch, seen from one copy.
        const gv = tf.grad((t: tf.Tensor) => tf.mul(tf.sum(batchMoments(t, [0, 1, 2]).variance), 0.5))(x);
        const both = tf.concat([x, x]);
        const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.moments(t, [0, 1, 2]).variance))(both);
        close(gv, tf.slice(ref, [0, 0, 0, 0], x.shape));
      }),
    );
    expect(c.calls).toBeGreaterThan(0);
  });

  it('draw the global batch noise and keep this worker rows', () => {
    tf.tidy(() => {
      const all = tf.randomUniform([8, 3], 0, 1, 'float32', 5);
      const mine = withCollective({ ...mirrored(2, 4), offset: 4 }, () => batchRandomUniform([4, 3], 0, 1, 5));
      close(mine, tf.slice(all, [4, 0], [4, 3]));
    });
  });

  it('splitBatch covers every row once, as evenly as possible', () => {
    expect(splitBatch(33, 2)).toEqual([
      [0, 17],
      [17, 16],
    ]);
    expect(splitBatch(128, 3)).toEqual([
      [0, 43],
      [43, 43],
      [86, 42],
    ]);
  });
});
