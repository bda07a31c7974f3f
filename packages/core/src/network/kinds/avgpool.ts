import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { requireImage } from './conv2d';
import { defineLayerKind } from './layer-kind';

export interface AvgPoolLayer {
  kind: 'avgpool';
  poolSize: [number, number];
  strides: [number, number];
  padding: 'valid';
  name?: string;
}

const pair = z.tuple([z.number().int().positive(), z.number().int().positive()]);
const pool = (layer: AvgPoolLayer, x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, layer.poolSize, layer.strides, 'valid');

export const avgpoolKind = defineLayerKind<AvgPoolLayer>({
  kind: 'avgpool',
  schema: z.object({ kind: z.literal('avgpool'), poolSize: pair, strides: pair, padding: z.literal('valid'), name: z.string().min(1).optional() }).strict(),
  checkInput: (_layer, s, i) => requireImage('avgpool', s, i),
  outputShape(layer, [h, w, c]) {
    return [Math.floor((h - layer.poolSize[0]) / layer.strides[0]) + 1, Math.floor((w - layer.poolSize[1]) / layer.strides[1]) + 1, c];
  },
  forward: pool,
  interval: (layer, { centre, radius }) => ({ centre: pool(layer, centre), radius: pool(layer, radius) }),
});
