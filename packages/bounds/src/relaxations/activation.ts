import * as tf from '@tensorflow/tfjs-core';
import type { LayerKind } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, LowerUpper, Relaxation } from '../types';
import { perSample, sumTrailing } from './linear-ops';

/**
 * Lower and upper lines of an element-wise activation over [l, u]:
 * lowerSlope x + lowerIntercept <= f(x) <= upperSlope x + upperIntercept for x in [l, u].
 * Each tensor is [N, ...shape] (shared by all spec rows) or [N, M, ...shape].
 */
export interface ActivationLines {
  lowerSlope: tf.Tensor;
  lowerIntercept: tf.Tensor;
  upperSlope: tf.Tensor;
  upperIntercept: tf.Tensor;
}

/**
 * Base class of element-wise, monotone non-decreasing activations. A subclass supplies the
 * function and its lower/upper lines; interval and backward propagation come from here.
 */
export abstract class ActivationRelaxation implements Relaxation {
  abstract readonly name: string;
  abstract readonly layerKind: LayerKind;
  readonly needsInputBounds = true;

  /** The activation itself (element-wise, monotone non-decreasing). */
  abstract apply(x: tf.Tensor): tf.Tensor;

  /** Lines bounding the activation over [pre.lower, pre.upper]; `alpha` as in Relaxation.backward. */
  abstract lines(pre: LowerUpper, alpha?: tf.Tensor): ActivationLines;

  interval(_ctx: LayerContext, input: Interval): Interval {
    const lo = this.apply(tf.sub(input.center, input.radius));
    const hi = this.apply(tf.add(input.center, input.radius));
    return { center: tf.div(tf.add(hi, lo), 2), radius: tf.div(tf.sub(hi, lo), 2) };
  }

  backward(_ctx: LayerContext, A: tf.Tensor, pre?: LowerUpper, alpha?: tf.Tensor): BackwardResult {
    if (!pre) throw new Error(`relaxation '${this.name}' needs the bounds of its input`);
    const lines = this.lines(pre, alpha);
    const r = A.rank;
    // A positive coefficient multiplies the lower line, a negative one the upper line.
    const pos = tf.relu(A);
    const neg = tf.sub(A, pos); // min(A, 0) without a broadcast against a scalar
    const next = tf.add(tf.mul(pos, perSample(lines.lowerSlope, r)), tf.mul(neg, perSample(lines.upperSlope, r)));
    const bias = sumTrailing(tf.add(tf.mul(pos, perSample(lines.lowerIntercept, r)), tf.mul(neg, perSample(lines.upperIntercept, r))));
    return { A: next, bias };
  }
}

/** Shared pieces of ReLU relaxations: masks and the chord (the tightest upper line). */
export function reluPieces(pre: LowerUpper): {
  active: tf.Tensor;
  unstable: tf.Tensor;
  upperSlope: tf.Tensor;
  upperIntercept: tf.Tensor;
} {
  const { lower: l, upper: u } = pre;
  // Masks via tf.step (which has a zero gradient) so that the bounds stay differentiable.
  const negL = tf.step(tf.neg(l)); // l < 0
  const active = tf.sub(1, negL); // l >= 0
  const unstable = tf.mul(negL, tf.step(u)); // l < 0 < u
  // Where not unstable the denominator is u - l + 1 >= 1, so the division is always safe.
  const denom = tf.add(tf.sub(u, l), tf.sub(1, unstable));
  const chord = tf.div(u, denom);
  const upperSlope = tf.add(active, tf.mul(unstable, chord));
  const upperIntercept = tf.mul(unstable, tf.neg(tf.mul(chord, l)));
  return { active, unstable, upperSlope, upperIntercept };
}

/**
 * ReLU (METHODS 3): chord as the upper line; lower line a x with CROWN's adaptive slope
 * a = 1 if u > -l else 0, or the free alpha in [0, 1] under alpha-CROWN.
 */
export class ReluRelaxation extends ActivationRelaxation {
  /** `string`, not the literal, so that a subclass registered under another name can rename it. */
  readonly name: string = 'relu';
  readonly layerKind = 'relu' as const;

  apply(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }

  /** CROWN's adaptive lower slope. */
  adaptiveSlope(pre: LowerUpper): tf.Tensor {
    return tf.step(tf.add(pre.upper, pre.lower));
  }

  lines(pre: LowerUpper, alpha?: tf.Tensor): ActivationLines {
    const { active, unstable, upperSlope, upperIntercept } = reluPieces(pre);
    const slope = alpha ?? this.adaptiveSlope(pre);
    const r = slope.rank;
    const lowerSlope = tf.add(perSample(active, r), tf.mul(perSample(unstable, r), slope));
    return { lowerSlope, lowerIntercept: tf.zerosLike(pre.lower), upperSlope, upperIntercept };
  }

  /**
   * The base class's backward with the ReLU's zero lower intercept used: A' = A us + relu(A)
   * (ls - us) and bias = sum(min(A, 0) ui), three full-size products instead of five. A
   * subclass that overrides lines() gets the generic backward through its own lines.
   */
  override backward(ctx: LayerContext, A: tf.Tensor, pre?: LowerUpper, alpha?: tf.Tensor): BackwardResult {
    if (this.lines !== ReluRelaxation.prototype.lines) return super.backward(ctx, A, pre, alpha);
    if (!pre) throw new Error(`relaxation '${this.name}' needs the bounds of its input`);
    const { active, unstable, upperSlope, upperIntercept } = reluPieces(pre);
    const slope = alpha ?? this.adaptiveSlope(pre);
    const sr = slope.rank;
    const lowerSlope = tf.add(perSample(active, sr), tf.mul(perSample(unstable, sr), slope));
    const r = A.rank;
    const pos = tf.relu(A);
    const us = perSample(upperSlope, r);
    const next = tf.add(tf.mul(A, us), tf.mul(pos, perSample(tf.sub(lowerSlope, perSample(upperSlope, sr)), r)));
    const bias = sumTrailing(tf.mul(tf.sub(A, pos), perSample(upperIntercept, r)));
    return { A: next, bias };
  }

  initAlpha(_ctx: LayerContext, pre: LowerUpper): tf.Tensor {
    return this.adaptiveSlope(pre);
  }
}
