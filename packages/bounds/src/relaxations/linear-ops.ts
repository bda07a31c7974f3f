import * as tf from '@tensorflow/tfjs-core';

/** Sum over every axis after the first two: [N, M, ...] -> [N, M]. */
export function sumTrailing(t: tf.Tensor): tf.Tensor {
  if (t.rank <= 2) return t;
  const axes = [];
  for (let a = 2; a < t.rank; a++) axes.push(a);
  return tf.sum(t, axes);
}

/** Insert a spec axis so a per-sample tensor [N, ...s] broadcasts against [N, M, ...s]. */
export function perSample(t: tf.Tensor, targetRank: number): tf.Tensor {
  return t.rank === targetRank - 1 ? tf.expandDims(t, 1) : t;
}

/**
 * Backward step of a per-channel affine map out = in * scale + shift (normalize, batchnorm).
 * scale/shift broadcast over the last (channel) axis of A [N, M, ...shape].
 */
export function channelAffineBackward(A: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor): { A: tf.Tensor; bias: tf.Tensor } {
  return { A: tf.mul(A, scale), bias: sumTrailing(tf.mul(A, shift)) };
}

/** IBP through a per-channel affine map: centre affine, radius scaled by |scale|. */
export function channelAffineInterval(center: tf.Tensor, radius: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor): { center: tf.Tensor; radius: tf.Tensor } {
  return { center: tf.add(tf.mul(center, scale), shift), radius: tf.mul(radius, tf.abs(scale)) };
}

/** Merge the batch and spec axes: [N, M, ...s] -> [N*M, ...s]. */
export function mergeRows(A: tf.Tensor): tf.Tensor {
  const s = A.shape as number[];
  return tf.reshape(A, [s[0] * s[1], ...s.slice(2)]);
}

/** Split the merged axis again: [N*M, ...s] -> [N, M, ...s]. */
export function splitRows(t: tf.Tensor, n: number, m: number): tf.Tensor {
  return tf.reshape(t, [n, m, ...t.shape.slice(1)]);
}
