import * as tf from '@tensorflow/tfjs-core';
import { Conv2DLayer, conv2dInputGrad, convPad } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';
import { mergeRows, splitRows, sumTrailing } from './linear-ops';

/**
 * Conv2D: exact. The backward step is the transposed convolution applied to the A matrix
 * batched as [N*M, Ho, Wo, Cout] (no dense unrolling of the convolution).
 */
export class Conv2DRelaxation implements Relaxation {
  readonly name = 'conv2d';
  readonly layerKind = 'conv2d' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const layer = ctx.layer as Conv2DLayer;
    const w = ctx.net.param(ctx.index, 'kernel') as tf.Tensor4D;
    const pad = convPad(layer, ctx.inShape);
    let center: tf.Tensor = tf.conv2d(input.center as tf.Tensor4D, w, layer.strides, pad);
    if (layer.useBias) center = tf.add(center, ctx.net.param(ctx.index, 'bias'));
    const radius = tf.conv2d(input.radius as tf.Tensor4D, tf.abs(w), layer.strides, pad);
    return { center, radius };
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    const layer = ctx.layer as Conv2DLayer;
    const [n, m] = A.shape;
    const w = ctx.net.param(ctx.index, 'kernel') as tf.Tensor4D;
    const [h, wd, c] = ctx.inShape;
    const rows = mergeRows(A) as tf.Tensor4D;
    // conv2dInputGrad computes conv2dTranspose exactly through forward convolutions (several
    // times faster than the Conv2DBackpropInput kernel on wasm, and differentiable).
    const back = conv2dInputGrad(rows, w, [n * m, h, wd, c], layer.strides, convPad(layer, ctx.inShape));
    const bias = layer.useBias ? sumTrailing(tf.mul(A, ctx.net.param(ctx.index, 'bias'))) : null;
    return { A: splitRows(back, n, m), bias };
  }
}
