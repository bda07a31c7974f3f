import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError } from '../../errors/errors';
import { defineLayerKind } from './layer-kind';

export interface DenseLayer {
  kind: 'dense';
  units: number;
  useBias: boolean;
  name?: string;
}

export const denseKind = defineLayerKind<DenseLayer>({
  kind: 'dense',
  schema: z.object({ kind: z.literal('dense'), units: z.number().int().positive(), useBias: z.boolean(), name: z.string().min(1).optional() }).strict(),
  hasKernel: true,
  checkInput(_layer, s, i) {
    if (s.length !== 1) throw new ConfigError(`layer ${i} (dense) needs a flat input, got [${s}]: add a flatten layer`);
  },
  outputShape: (layer) => [layer.units],
  paramShapes(layer, inShape) {
    const p: Record<string, number[]> = { kernel: [inShape[inShape.length - 1], layer.units] };
    if (layer.useBias) p.bias = [layer.units];
    return p;
  },
  forward(layer, h, c) {
    const y = tf.matMul(h as tf.Tensor2D, c.param('kernel') as tf.Tensor2D);
    return layer.useBias ? tf.add(y, c.param('bias')) : y;
  },
  interval(layer, { centre, radius }, c) {
    const k = c.param('kernel') as tf.Tensor2D;
    let m = tf.matMul(centre as tf.Tensor2D, k) as tf.Tensor;
    if (layer.useBias) m = tf.add(m, c.param('bias'));
    return { centre: m, radius: tf.matMul(radius as tf.Tensor2D, tf.abs(k)) };
  },
});
