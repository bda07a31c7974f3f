import * as tf from '@tensorflow/tfjs-core';
import { DataSplit, Network } from '@certkd/core';

/** Clean accuracy in eval mode over the first `limit` examples of a split. */
export function accuracy(net: Network, split: DataSplit, batchSize: number, limit = split.size): { acc: number; n: number } {
  const n = Math.min(limit, split.size);
  let correct = 0;
  const [h, w, c] = split.shape;
  for (let s = 0; s < n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i);
    const { x, y } = split.read(idx);
    correct += tf.tidy(() => {
      const logits = net.predict(tf.tensor4d(x, [idx.length, h, w, c]));
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(y, 'int32')), 'int32')).dataSync()[0];
    });
  }
  return { acc: n ? correct / n : 0, n };
}
