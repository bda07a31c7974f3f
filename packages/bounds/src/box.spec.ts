import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@certkd/core';
import { boxAround, specMatrix } from './box';

describe('boxAround', () => {
  it('clips the L-inf box to [lo, hi]', () => {
    const x = tf.tensor2d([[0.05, 0.5, 0.97]]);
    const b = boxAround(x, 0.1);
    expect(Array.from(b.lower.dataSync())).toEqual([0, expect.closeTo(0.4, 6), expect.closeTo(0.87, 6)]);
    expect(Array.from(b.upper.dataSync())).toEqual([expect.closeTo(0.15, 6), expect.closeTo(0.6, 6), 1]);
    tf.dispose([x, b.lower, b.upper]);
  });
  it('rejects a negative eps', () => {
    const x = tf.zeros([1, 2]);
    expect(() => boxAround(x, -1)).toThrow(ConfigError);
    x.dispose();
  });
});

describe('specMatrix', () => {
  it('has rows e_y - e_j for j != y', () => {
    const y = tf.tensor1d([2, 0], 'int32');
    const c = specMatrix(y, 3);
    expect(c.shape).toEqual([2, 2, 3]);
    expect(c.arraySync()).toEqual([
      [
        [-1, 0, 1],
        [0, -1, 1],
      ],
      [
        [1, -1, 0],
        [1, 0, -1],
      ],
    ]);
    tf.dispose([y, c]);
  });
  it('rejects labels outside the class range', () => {
    const y = tf.tensor1d([3], 'int32');
    expect(() => specMatrix(y, 3)).toThrow(/label 3/);
    y.dispose();
  });
});
