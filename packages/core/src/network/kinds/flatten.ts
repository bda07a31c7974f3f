import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { defineLayerKind } from './layer-kind';

export interface FlattenLayer {
  kind: 'flatten';
  name?: string;
}

export const flattenKind = defineLayerKind<FlattenLayer>({
  kind: 'flatten',
  schema: z.object({ kind: z.literal('flatten'), name: z.string().min(1).optional() }).strict(),
  outputShape: (_layer, s) => [s.reduce((a, b) => a * b, 1)],
  forward: (_layer, h) => tf.reshape(h, [h.shape[0], -1]),
  interval: (_layer, { centre, radius }) => ({ centre: tf.reshape(centre, [centre.shape[0], -1]), radius: tf.reshape(radius, [radius.shape[0], -1]) }),
});
