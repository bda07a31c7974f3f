import * as tf from '@tensorflow/tfjs-core';

/**
 * Sound image of the box [lower, upper] ([N, d_in]) under x -> x W (W: [d_in, d_out]):
 * centre m W and radius r |W| (METHODS 2). Returns [N, d_out] bounds.
 */
export function intervalThroughLinear(lower: tf.Tensor2D, upper: tf.Tensor2D, w: tf.Tensor2D): { lower: tf.Tensor2D; upper: tf.Tensor2D } {
  return tf.tidy(() => {
    const m = tf.matMul(tf.div(tf.add(upper, lower), 2), w);
    const r = tf.matMul(tf.div(tf.sub(upper, lower), 2), tf.abs(w));
    return { lower: tf.sub(m, r) as tf.Tensor2D, upper: tf.add(m, r) as tf.Tensor2D };
  });
}
