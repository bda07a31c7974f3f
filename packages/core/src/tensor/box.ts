import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import type { InputBox } from '../contracts/attack';
import { batchRandomUniform } from '../parallel/collective';
import { roundDown32, roundUp32, sumDown32, sumUp32 } from './float32-round';

function checkRadius(eps: number, range: readonly [number, number]): void {
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`eps must be a finite number >= 0, got ${eps}`, undefined, 'eps');
  if (!(range[0] <= range[1])) throw new ConfigError(`pixel range [${range}] is empty`, undefined, 'range');
}

/**
 * The L-inf box B(x, eps) intersected with the valid range (METHODS 4), in pixel space. Both
 * bounds have x's shape; the caller disposes them (see disposeBox). Every package that needs
 * such a box (attacks, teachers, bounds, the losses) builds it here.
 */
export function linfBox(x: tf.Tensor, eps: number, range: readonly [number, number] = [0, 1]): InputBox {
  checkRadius(eps, range);
  return tf.tidy(() => ({
    lower: tf.clipByValue(tf.sub(x, eps), range[0], range[1]),
    upper: tf.clipByValue(tf.add(x, eps), range[0], range[1]),
  }));
}

/**
 * linfBox on a flat point held in a Float32Array (the certifier's form), rounded outwards: each
 * bound is the nearest float32 outside the real-valued bound max(lo, x - eps) or
 * min(hi, x + eps) (a bound rounded to nearest could shrink the box by up to half a float32
 * step, and a verified claim would then cover less than the stated ball).
 */
export function linfBoxFlat(x: Float32Array, eps: number, range: readonly [number, number] = [0, 1]): { lower: Float32Array; upper: Float32Array } {
  checkRadius(eps, range);
  const lower = new Float32Array(x.length);
  const upper = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    lower[k] = x[k] - eps <= range[0] ? roundDown32(range[0]) : sumDown32(x[k], -eps);
    upper[k] = x[k] + eps >= range[1] ? roundUp32(range[1]) : sumUp32(x[k], eps);
  }
  return { lower, upper };
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

/** A point drawn uniformly from the box, seeded from `seed` (batch-wide inside a training worker). */
export function uniformInBox(box: InputBox, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = batchRandomUniform(box.lower.shape, 0, 1, seed);
    return tf.add(box.lower, tf.mul(u, tf.sub(box.upper, box.lower)));
  });
}
