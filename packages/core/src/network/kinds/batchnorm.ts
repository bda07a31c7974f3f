import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { batchMoments } from '../../parallel/collective';
import type { BatchStats } from '../network';
import { defineLayerKind } from './layer-kind';

export interface BatchNormLayer {
  kind: 'batchnorm';
  epsilon: number;
  momentum: number;
  name?: string;
}

export const batchnormKind = defineLayerKind<BatchNormLayer>({
  kind: 'batchnorm',
  schema: z
    .object({ kind: z.literal('batchnorm'), epsilon: z.number().positive(), momentum: z.number().min(0).max(1), name: z.string().min(1).optional() })
    .strict(),
  outputShape: (_layer, s) => s.slice(),
  paramShapes(_layer, inShape) {
    const c = inShape[inShape.length - 1];
    return { gamma: [c], beta: [c], movingMean: [c], movingVariance: [c] };
  },
  forward(_layer, h, c) {
    let stats: BatchStats | undefined;
    if (c.opts.mode === 'train') {
      stats = c.opts.bnStats?.get(c.index);
      if (!stats) {
        const axes = h.rank === 4 ? [0, 1, 2] : [0];
        const m = batchMoments(h, axes);
        stats = { mean: m.mean as tf.Tensor1D, variance: m.variance as tf.Tensor1D };
      }
      if (c.opts.collectStats && c.collected) c.collected.set(c.index, stats);
    }
    const { scale, shift } = c.bnAffine(stats);
    return tf.add(tf.mul(h, scale), shift);
  },
  interval(_layer, { centre, radius }, c) {
    const { scale, shift } = c.bnAffine(c.bnStats?.get(c.index));
    return { centre: tf.add(tf.mul(centre, scale), shift), radius: tf.mul(radius, tf.abs(scale)) };
  },
});
