import * as tf from '@tensorflow/tfjs-core';

/** Per-sample cross-entropy [N] of logits [N, K] against integer labels y [N], via log-sum-exp. */
export function crossEntropyPerSample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.cast(y, 'int32'), k)), 1);
    return tf.sub(tf.logSumExp(logits, 1), picked) as tf.Tensor1D;
  });
}
