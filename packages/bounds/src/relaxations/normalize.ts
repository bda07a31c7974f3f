import * as tf from '@tensorflow/tfjs-core';
import type { NormalizeLayer } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';
import { channelAffineBackward, channelAffineInterval } from './linear-ops';

function scaleShift(ctx: LayerContext): { scale: tf.Tensor; shift: tf.Tensor } {
  const layer = ctx.layer as NormalizeLayer;
  const scale = tf.tensor1d(layer.std.map((s) => 1 / s));
  const shift = tf.tensor1d(layer.mean.map((m, i) => -m / layer.std[i]));
  return { scale, shift };
}

/** Normalisation (x - mean) / std per channel: exact, it is affine. */
export class NormalizeRelaxation implements Relaxation {
  readonly name = 'normalize';
  readonly layerKind = 'normalize' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const { scale, shift } = scaleShift(ctx);
    return channelAffineInterval(input.center, input.radius, scale, shift);
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    const { scale, shift } = scaleShift(ctx);
    return channelAffineBackward(A, scale, shift);
  }
}
