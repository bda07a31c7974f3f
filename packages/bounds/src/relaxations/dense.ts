import * as tf from '@tensorflow/tfjs-core';
import { matMulT } from '@certkd/core';
import type { DenseLayer } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';
import { mergeRows, splitRows } from './linear-ops';

/** Dense layer y = x W + b: exact. */
export class DenseRelaxation implements Relaxation {
  readonly name = 'dense';
  readonly layerKind = 'dense' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const w = ctx.net.param(ctx.index, 'kernel') as tf.Tensor2D;
    let center = tf.matMul(input.center as tf.Tensor2D, w) as tf.Tensor;
    if ((ctx.layer as DenseLayer).useBias) center = tf.add(center, ctx.net.param(ctx.index, 'bias'));
    return { center, radius: tf.matMul(input.radius as tf.Tensor2D, tf.abs(w)) };
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    // A [N, M, Dout] -> A W^T [N, M, Din]; constant A . b.
    const [n, m] = A.shape;
    const w = ctx.net.param(ctx.index, 'kernel') as tf.Tensor2D;
    const next = splitRows(matMulT(mergeRows(A), w, false, true), n, m);
    const bias = (ctx.layer as DenseLayer).useBias ? tf.sum(tf.mul(A, ctx.net.param(ctx.index, 'bias')), 2) : null;
    return { A: next, bias };
  }
}
