import * as tf from '@tensorflow/tfjs-core';
import { batchMean } from '@certkd/core';

/**
 * L(v) = log(1 + sum_j exp(-v_j)) for lower bounds v of the logit differences [N, K-1]
 * (METHODS 1), computed as a log-sum-exp of [0, -v]; mean over the batch. Scalar.
 */
export function lossOverLowerBounds(v: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const padded = tf.concat([tf.zeros([v.shape[0], 1]), tf.neg(v)], 1);
    return batchMean(tf.logSumExp(padded, 1));
  });
}

/** Per-sample cross-entropy of logits [N, K] against integer labels y [N]: [N]. */
export function crossEntropyPerSample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.cast(y, 'int32'), k)), 1);
    return tf.sub(tf.logSumExp(logits, 1), picked) as tf.Tensor1D;
  });
}

/** Mean cross-entropy of logits [N, K] against labels y [N]. Scalar. */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => batchMean(crossEntropyPerSample(logits, y)));
}
