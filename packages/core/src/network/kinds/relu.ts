import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { defineLayerKind } from './layer-kind';

export interface ReluLayer {
  kind: 'relu';
  name?: string;
}

export const reluKind = defineLayerKind<ReluLayer>({
  kind: 'relu',
  schema: z.object({ kind: z.literal('relu'), name: z.string().min(1).optional() }).strict(),
  outputShape: (_layer, s) => s.slice(),
  forward: (_layer, h) => tf.relu(h),
  interval(_layer, { centre, radius }) {
    const l = tf.relu(tf.sub(centre, radius));
    const u = tf.relu(tf.add(centre, radius));
    return { centre: tf.div(tf.add(u, l), 2), radius: tf.div(tf.sub(u, l), 2) };
  },
});
