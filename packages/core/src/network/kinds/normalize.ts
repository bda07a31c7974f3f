import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError } from '../../errors/errors';
import { channelShape, defineLayerKind } from './layer-kind';

export interface NormalizeLayer {
  kind: 'normalize';
  /** Per-channel mean and std in pixel space; y = (x - mean) / std. */
  mean: number[];
  std: number[];
  name?: string;
}

export const normalizeKind = defineLayerKind<NormalizeLayer>({
  kind: 'normalize',
  schema: z
    .object({ kind: z.literal('normalize'), mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1), name: z.string().min(1).optional() })
    .strict(),
  checkInput(layer, s, i) {
    if (layer.mean.length !== s[s.length - 1] && layer.mean.length !== 1) {
      throw new ConfigError(`layer ${i} (normalize) has ${layer.mean.length} channels, input has ${s[s.length - 1]}`);
    }
  },
  outputShape: (_layer, s) => s.slice(),
  forward(layer, h) {
    const shape = channelShape(h, layer.mean.length);
    return tf.div(tf.sub(h, tf.tensor(layer.mean, shape)), tf.tensor(layer.std, shape));
  },
  interval(layer, { centre, radius }) {
    const shape = channelShape(centre, layer.mean.length);
    const std = tf.tensor(layer.std, shape);
    return { centre: tf.div(tf.sub(centre, tf.tensor(layer.mean, shape)), std), radius: tf.div(radius, tf.abs(std)) };
  },
});
