import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';
import { channelAffineBackward, channelAffineInterval } from './linear-ops';

/** Scale and shift of BatchNorm layer ctx.index: running statistics in eval mode, the given batch statistics in train mode. */
export function batchNormAffine(ctx: LayerContext): { scale: tf.Tensor; shift: tf.Tensor } {
  if (ctx.mode === 'train') {
    const stats = ctx.bnStats?.get(ctx.index);
    if (!stats) {
      throw new ConfigError(
        `train-mode bounds need batch statistics for BatchNorm layer ${ctx.index}; pass bnStats from the clean forward pass (collectStats)`,
        undefined,
        'bnStats',
      );
    }
    return ctx.net.bnAffine(ctx.index, stats);
  }
  return ctx.net.bnAffine(ctx.index);
}

/** BatchNorm with fixed statistics is a per-channel affine map, so the relaxation is exact. */
export class BatchNormRelaxation implements Relaxation {
  readonly name = 'batchnorm';
  readonly layerKind = 'batchnorm' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const { scale, shift } = batchNormAffine(ctx);
    return channelAffineInterval(input.center, input.radius, scale, shift);
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    const { scale, shift } = batchNormAffine(ctx);
    return channelAffineBackward(A, scale, shift);
  }
}
