import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError } from '../../errors/errors';
import { defineLayerKind } from './layer-kind';

export type ExplicitPadding = [[number, number], [number, number]];
export type Padding = 'same' | 'valid' | ExplicitPadding;

export interface Conv2DLayer {
  kind: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  useBias: boolean;
  name?: string;
}

function convOut(n: number, k: number, s: number, padding: Padding, axis: 0 | 1): number {
  if (padding === 'same') return Math.ceil(n / s);
  if (padding === 'valid') return Math.floor((n - k) / s) + 1;
  const [a, b] = padding[axis];
  return Math.floor((n + a + b - k) / s) + 1;
}

/** Explicit [top, bottom], [left, right] padding that a conv layer applies. */
export function explicitPadding(layer: Conv2DLayer, inShape: number[]): ExplicitPadding {
  if (layer.padding === 'valid')
    return [
      [0, 0],
      [0, 0],
    ];
  if (Array.isArray(layer.padding)) return layer.padding;
  const pads = [0, 1].map((ax) => {
    const n = inShape[ax];
    const k = layer.kernelSize[ax];
    const s = layer.strides[ax];
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + k - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
  });
  return [pads[0], pads[1]];
}

/** Padding argument for tf.conv2d (explicit padding as NHWC pairs). */
export function convPad(layer: Conv2DLayer, inShape: number[]): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  if (layer.padding === 'valid') return 'valid';
  const p = explicitPadding(layer, inShape);
  if (layer.padding === 'same' && p[0][0] === p[0][1] && p[1][0] === p[1][1]) return 'same';
  return [[0, 0], p[0], p[1], [0, 0]];
}

/** An [H, W, C] input, or a ConfigError naming the layer (conv2d, avgpool). */
export function requireImage(kind: string, s: number[], i: number): void {
  if (s.length !== 3) throw new ConfigError(`layer ${i} (${kind}) needs an [H, W, C] input, got [${s}]`);
}

const pos = z.number().int().positive();
const pair = z.tuple([pos, pos]);
const padPair = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);

export const conv2dKind = defineLayerKind<Conv2DLayer>({
  kind: 'conv2d',
  schema: z
    .object({
      kind: z.literal('conv2d'),
      filters: pos,
      kernelSize: pair,
      strides: pair,
      padding: z.union([z.literal('same'), z.literal('valid'), z.tuple([padPair, padPair])]),
      useBias: z.boolean(),
      name: z.string().min(1).optional(),
    })
    .strict(),
  hasKernel: true,
  checkInput: (_layer, s, i) => requireImage('conv2d', s, i),
  outputShape(layer, [h, w]) {
    const [kh, kw] = layer.kernelSize;
    const [sh, sw] = layer.strides;
    return [convOut(h, kh, sh, layer.padding, 0), convOut(w, kw, sw, layer.padding, 1), layer.filters];
  },
  paramShapes(layer, inShape) {
    const cin = inShape[inShape.length - 1];
    const p: Record<string, number[]> = { kernel: [layer.kernelSize[0], layer.kernelSize[1], cin, layer.filters] };
    if (layer.useBias) p.bias = [layer.filters];
    return p;
  },
  forward(layer, h, c) {
    const y = tf.conv2d(h as tf.Tensor4D, c.param('kernel') as tf.Tensor4D, layer.strides, convPad(layer, c.inShape));
    return layer.useBias ? tf.add(y, c.param('bias')) : y;
  },
  interval(layer, { centre, radius }, c) {
    const k = c.param('kernel') as tf.Tensor4D;
    const pad = convPad(layer, c.inShape);
    let m = tf.conv2d(centre as tf.Tensor4D, k, layer.strides, pad) as tf.Tensor;
    if (layer.useBias) m = tf.add(m, c.param('bias'));
    return { centre: m, radius: tf.conv2d(radius as tf.Tensor4D, tf.abs(k), layer.strides, pad) };
  },
});
