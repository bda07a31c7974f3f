import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '../../rng/seeded-rng';
import { ConvPad } from '../conv-grad';

/** A conv2d configuration the gradient tests cover. */
export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: number | [number, number];
  pad: ConvPad;
}

/** Strides 1 to 3, same/valid/explicit padding, odd and even sizes, 1 to 16 channels. */
export const CONV_CASES: readonly ConvCase[] = [
  { name: '3x3 s1 same', x: [2, 9, 9, 3], w: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '3x3 s2 same, odd input', x: [2, 9, 9, 3], w: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '3x3 s2 same, even input (asymmetric padding)', x: [2, 10, 10, 3], w: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '4x4 s2 valid', x: [2, 12, 12, 2], w: [4, 4, 2, 5], strides: 2, pad: 'valid' },
  { name: '4x4 s2 valid, odd input (last row unused)', x: [2, 11, 13, 2], w: [4, 4, 2, 5], strides: 2, pad: 'valid' },
  { name: '4x4 s1 valid', x: [2, 13, 13, 16], w: [4, 4, 16, 8], strides: 1, pad: 'valid' },
  {
    name: '3x3 s2 pad 1',
    x: [2, 9, 9, 3],
    w: [3, 3, 3, 4],
    strides: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  {
    name: '3x3 s1 pad 1, 16 channels',
    x: [1, 8, 8, 16],
    w: [3, 3, 16, 6],
    strides: 1,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  {
    name: 'explicit padding wider than the kernel, strides 2x3',
    x: [1, 7, 8, 3],
    w: [2, 3, 3, 4],
    strides: [2, 3],
    pad: [
      [0, 0],
      [4, 0],
      [0, 5],
      [0, 0],
    ],
  },
  { name: '3x3 s3 valid, one channel', x: [2, 8, 8, 1], w: [3, 3, 1, 2], strides: 3, pad: 'valid' },
  { name: '5x5 s1 same', x: [1, 7, 6, 2], w: [5, 5, 2, 3], strides: 1, pad: 'same' },
  { name: '1x1 s2 valid', x: [2, 5, 5, 4], w: [1, 1, 4, 3], strides: 2, pad: 'valid' },
];

/** Uniform values in [-1, 1) from a seeded generator (deterministic across backends). */
export function seededValues(shape: readonly number[], seed: number): Float32Array {
  const rng = new SeededRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Output shape of a case's forward conv. */
export function convOutShape(c: ConvCase): [number, number, number, number] {
  const s = typeof c.strides === 'number' ? ([c.strides, c.strides] as [number, number]) : c.strides;
  return tf.backend_util.computeConv2DInfo(c.x, c.w, s, 1, c.pad).outShape;
}

/**
 * Loop-based gradients of sum(conv2d(x, w) * dy) with respect to x and w, straight from the
 * definition y[n, oh, ow, o] = sum x[n, oh*sh - top + kh, ow*sw - left + kw, c] w[kh, kw, c, o].
 */
export function naiveConvGrads(c: ConvCase, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Float32Array; dw: Float32Array } {
  const s = typeof c.strides === 'number' ? ([c.strides, c.strides] as [number, number]) : c.strides;
  const info = tf.backend_util.computeConv2DInfo(c.x, c.w, s, 1, c.pad);
  const [N, H, W, C] = c.x;
  const [KH, KW, , O] = c.w;
  const { outHeight: OH, outWidth: OW } = info;
  const { top, left } = info.padInfo;
  const dx = new Float32Array(x.length);
  const dw = new Float32Array(w.length);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < KH; kh++) {
          const i = oh * s[0] - top + kh;
          if (i < 0 || i >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const j = ow * s[1] - left + kw;
            if (j < 0 || j >= W) continue;
            for (let ci = 0; ci < C; ci++)
              for (let o = 0; o < O; o++) {
                const g = dy[((n * OH + oh) * OW + ow) * O + o];
                const xi = ((n * H + i) * W + j) * C + ci;
                const wi = ((kh * KW + kw) * C + ci) * O + o;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
          }
        }
  return { dx, dw };
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
