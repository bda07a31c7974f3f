import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@certkd/core';
import { specMatrix } from '@certkd/bounds';

/**
 * z_j = f_y - f_j for j != y (METHODS 1), in the row order of bounds' specMatrix(y, K) so
 * that it lines up with bound vectors: logits [N, K] -> [N, K-1].
 */
export function logitDifferences(logits: tf.Tensor2D, y: tf.Tensor1D, classes: number): tf.Tensor2D {
  if (logits.shape[1] !== classes) {
    throw new ConfigError(`logits have ${logits.shape[1]} classes but ${classes} were given`, undefined, 'classes');
  }
  return tf.tidy(() => applySpec(specMatrix(y, classes), logits));
}

/** C f for spec matrices C [N, M, K] and vectors f [N, K]: [N, M]. */
export function applySpec(spec: tf.Tensor3D, f: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.squeeze(tf.matMul(spec, tf.expandDims(f, 2)), [2]) as tf.Tensor2D);
}
