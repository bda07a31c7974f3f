import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, lossOverLowerBounds } from './loss-over-lower-bounds';
import { logitDifferences } from './logit-differences';

describe('lossOverLowerBounds', () => {
  it('equals log(1 + sum exp(-v)) averaged over the batch', () => {
    const v = [
      [0.5, -1.2],
      [2, 0.1],
    ];
    const want = (Math.log(1 + Math.exp(-0.5) + Math.exp(1.2)) + Math.log(1 + Math.exp(-2) + Math.exp(-0.1))) / 2;
    const got = tf.tidy(() => lossOverLowerBounds(tf.tensor2d(v)).arraySync());
    expect(got).toBeCloseTo(want, 5);
  });

  it('stays finite for very negative bounds (log-sum-exp)', () => {
    const got = tf.tidy(() => lossOverLowerBounds(tf.tensor2d([[-1000, 3]])).arraySync());
    expect(got).toBeCloseTo(1000, 3);
  });

  it('applied to logit differences is the cross-entropy', () => {
    const logits = [
      [1, 2, -0.5],
      [0.3, -1, 2],
    ];
    const y = [1, 2];
    const want = logits.reduce((s, f, n) => s + Math.log(f.reduce((a, b) => a + Math.exp(b), 0)) - f[y[n]], 0) / 2;
    const [a, b] = tf.tidy(() => {
      const l = tf.tensor2d(logits);
      const yy = tf.tensor1d(y, 'int32');
      return [lossOverLowerBounds(logitDifferences(l, yy, 3)).arraySync(), crossEntropy(l, yy).arraySync()];
    });
    expect(a).toBeCloseTo(want, 5);
    expect(b).toBeCloseTo(want, 5);
  });

  it('logitDifferences gives f_y - f_j for j != y in increasing j', () => {
    const d = tf.tidy(() => logitDifferences(tf.tensor2d([[1, 4, 2]]), tf.tensor1d([1], 'int32'), 3).arraySync());
    expect(d[0][0]).toBeCloseTo(3, 6);
    expect(d[0][1]).toBeCloseTo(2, 6);
    expect(() => tf.tidy(() => logitDifferences(tf.tensor2d([[1, 4, 2]]), tf.tensor1d([1], 'int32'), 4))).toThrow(/3 classes/);
  });
});
