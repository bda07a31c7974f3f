import * as tf from '@tensorflow/tfjs-core';
import { batchMean, crossEntropyPerSample } from '@certkd/core';

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

/** Mean cross-entropy of logits [N, K] against labels y [N]. Scalar. */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => batchMean(crossEntropyPerSample(logits, y)));
}
