import * as tf from '@tensorflow/tfjs-core';
import { batchRandomUniform, ConfigError, type InputBox } from '@certkd/core';

/**
 * The L-inf box B(x, eps) intersected with the valid pixel range (METHODS 4), in pixel space.
 * Both bounds have x's shape; the caller disposes them (see disposeBox).
 */
export function linfBox(x: tf.Tensor, eps: number, range: [number, number] = [0, 1]): InputBox {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`eps must be a finite number >= 0, got ${eps}`, undefined, 'eps');
  if (!(range[0] < range[1])) throw new ConfigError(`pixel range [${range}] is empty`, undefined, 'range');
  return tf.tidy(() => ({
    lower: tf.clipByValue(tf.sub(x, eps), range[0], range[1]),
    upper: tf.clipByValue(tf.add(x, eps), range[0], range[1]),
  }));
}

export function disposeBox(box: InputBox): void {
  box.lower.dispose();
  box.upper.dispose();
}

/** Elementwise projection onto the box. */
export function clipToBox(x: tf.Tensor, box: InputBox): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.maximum(x, box.lower), box.upper));
}

/** Per-element half-width (upper - lower) / 2 of the box: the unit attack steps are measured in. */
export function halfWidth(box: InputBox): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(box.upper, box.lower), 2));
}

/** A point drawn uniformly from the box, seeded from `seed`. */
export function uniformInBox(box: InputBox, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = batchRandomUniform(box.lower.shape, 0, 1, seed);
    return tf.add(box.lower, tf.mul(u, tf.sub(box.upper, box.lower)));
  });
}
