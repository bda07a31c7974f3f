import * as tf from '@tensorflow/tfjs-core';
import { avgPoolValidInputGrad, conv2dFilterGrad, conv2dInputGrad, setInputGradMethod } from './conv-grad';
import { CONV_CASES, convOutShape, maxAbsDiff, naiveConvGrads, seededValues } from './__fixtures__/conv-cases';

// Runs on the cpu backend with the stock gradients (this file never registers the overrides).
describe('conv2dInputGrad / conv2dFilterGrad', () => {
  it.each(CONV_CASES.map((c) => [c.name, c] as const))('match the loop reference and the stock gradient: %s', (_, c) => {
    const before = tf.memory().numTensors;
    const xv = seededValues(c.x, 1);
    const wv = seededValues(c.w, 2);
    const outShape = convOutShape(c);
    const dyv = seededValues(outShape, 3);
    const ref = naiveConvGrads(c, xv, wv, dyv);
    tf.tidy(() => {
      const x = tf.tensor4d(xv, c.x);
      const w = tf.tensor4d(wv, c.w);
      const dy = tf.tensor4d(dyv, outShape);
      setInputGradMethod('dilate');
      const dxDilate = conv2dInputGrad(dy, w, c.x, c.strides, c.pad);
      setInputGradMethod('taps');
      const dxTaps = conv2dInputGrad(dy, w, c.x, c.strides, c.pad);
      setInputGradMethod('phases');
      const dx = conv2dInputGrad(dy, w, c.x, c.strides, c.pad);
      setInputGradMethod('auto');
      expect(dxTaps.shape).toEqual(c.x);
      expect(maxAbsDiff(dxTaps.dataSync(), ref.dx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(dxDilate.dataSync(), ref.dx)).toBeLessThan(1e-4);
      const dwConv = conv2dFilterGrad(x, dy, c.w, c.strides, c.pad, undefined, 'conv');
      const dwMatmul = conv2dFilterGrad(x, dy, c.w, c.strides, c.pad, undefined, 'matmul');
      expect(dx.shape).toEqual(c.x);
      expect(dwConv.shape).toEqual(c.w);
      expect(dwMatmul.shape).toEqual(c.w);
      expect(maxAbsDiff(dx.dataSync(), ref.dx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(dwConv.dataSync(), ref.dw)).toBeLessThan(1e-4);
      expect(maxAbsDiff(dwMatmul.dataSync(), ref.dw)).toBeLessThan(1e-4);

      // The stock tfjs gradient on cpu agrees with the same reference.
      const [sx, sw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), dy)))([x, w]);
      expect(maxAbsDiff(sx.dataSync(), dx.dataSync())).toBeLessThan(1e-4);
      expect(maxAbsDiff(sw.dataSync(), dwConv.dataSync())).toBeLessThan(1e-4);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reference is not trivially zero (the cases exercise every tap)', () => {
    const c = CONV_CASES[1];
    const ref = naiveConvGrads(c, seededValues(c.x, 1), seededValues(c.w, 2), seededValues(convOutShape(c), 3));
    expect(ref.dw.every((v) => v !== 0)).toBe(true);
    expect(ref.dx.some((v) => v !== 0)).toBe(true);
  });

  it('honours dimRoundingMode like the forward conv', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(seededValues([1, 8, 8, 2], 4), [1, 8, 8, 2]);
      const w = tf.tensor4d(seededValues([3, 3, 2, 2], 5), [3, 3, 2, 2]);
      const y = tf.conv2d(x, w, 2, 1, 'NHWC', 1, 'ceil');
      const dy = tf.onesLike(y);
      const dx = conv2dInputGrad(dy, w, x.shape, 2, 1, 'ceil');
      const dw = conv2dFilterGrad(x, dy, w.shape, 2, 1, 'ceil');
      expect(dx.shape).toEqual(x.shape);
      expect(dw.shape).toEqual(w.shape);
      // With 'ceil' the last output row reads one padded row more: the same as explicit
      // padding [1, 2] on each spatial axis, which the loop reference handles.
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [1, 2],
        [1, 2],
        [0, 0],
      ];
      expect(maxAbsDiff(tf.conv2d(x, w, 2, pad).dataSync(), y.dataSync())).toBeLessThan(1e-6);
      const c = { name: 'ceil', x: [1, 8, 8, 2] as [number, number, number, number], w: [3, 3, 2, 2] as [number, number, number, number], strides: 2, pad };
      const ref = naiveConvGrads(c, x.dataSync() as Float32Array, w.dataSync() as Float32Array, dy.dataSync() as Float32Array);
      expect(maxAbsDiff(dx.dataSync(), ref.dx)).toBeLessThan(1e-5);
      expect(maxAbsDiff(dw.dataSync(), ref.dw)).toBeLessThan(1e-5);
    });
  });
});

describe('avgPoolValidInputGrad', () => {
  // Loop reference: each output spreads dy / window size over its window.
  function naive(x: number[], f: [number, number], s: [number, number], dy: Float32Array, oh: number, ow: number): Float32Array {
    const [N, H, W, C] = x;
    const dx = new Float32Array(N * H * W * C);
    for (let n = 0; n < N; n++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let a = 0; a < f[0]; a++)
            for (let b = 0; b < f[1]; b++)
              for (let c = 0; c < C; c++) {
                dx[((n * H + i * s[0] + a) * W + j * s[1] + b) * C + c] += dy[((n * oh + i) * ow + j) * C + c] / (f[0] * f[1]);
              }
    return dx;
  }

  it.each([
    [
      [2, 8, 8, 3],
      [2, 2],
      [2, 2],
    ],
    [
      [2, 9, 7, 3],
      [2, 2],
      [2, 2],
    ],
    [
      [1, 9, 9, 4],
      [3, 3],
      [2, 2],
    ],
    [
      [1, 7, 8, 2],
      [2, 3],
      [1, 2],
    ],
    [
      [1, 6, 6, 1],
      [1, 1],
      [3, 3],
    ],
  ] as [number[], [number, number], [number, number]][])('input %j, window %j, stride %j', (x, f, s) => {
    const before = tf.memory().numTensors;
    const info = tf.backend_util.computePool2DInfo(x as [number, number, number, number], f, s, 1, 'valid');
    const dyv = seededValues(info.outShape, 3);
    const ref = naive(x, f, s, dyv, info.outHeight, info.outWidth);
    tf.tidy(() => {
      const dy = tf.tensor(dyv, info.outShape) as tf.Tensor4D;
      const dx = avgPoolValidInputGrad(dy, x, f, s);
      expect(dx.shape).toEqual(x);
      expect(maxAbsDiff(dx.dataSync(), ref)).toBeLessThan(1e-5);
      const xs = tf.tensor4d(seededValues(x, 1), x as [number, number, number, number]);
      const stock = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, f, s, 'valid'), dy)))(xs);
      expect(maxAbsDiff(stock.dataSync(), ref)).toBeLessThan(1e-5);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
