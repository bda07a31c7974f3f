import * as tf from '@tensorflow/tfjs-core';

/** C f for spec matrices C [N, M, K] and vectors f [N, K]: [N, M]. */
export function applySpec(spec: tf.Tensor3D, f: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.squeeze(tf.matMul(spec, tf.expandDims(f, 2)), [2]) as tf.Tensor2D);
}
