import * as tf from '@tensorflow/tfjs-core';
import type { AvgPoolLayer } from '@certkd/core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';

/** Average pooling ('valid'): affine with non-negative weights, so exact. */
export class AvgPoolRelaxation implements Relaxation {
  readonly name = 'avgpool';
  readonly layerKind = 'avgpool' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const l = ctx.layer as AvgPoolLayer;
    return {
      center: tf.avgPool(input.center as tf.Tensor4D, l.poolSize, l.strides, 'valid'),
      radius: tf.avgPool(input.radius as tf.Tensor4D, l.poolSize, l.strides, 'valid'),
    };
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    // Each channel is pooled on its own: move channels into the row axis and apply the
    // transposed convolution with a single-channel averaging kernel.
    const l = ctx.layer as AvgPoolLayer;
    const [n, m, ho, wo, c] = A.shape;
    const [h, w] = ctx.inShape;
    const rows = tf.reshape(tf.transpose(tf.reshape(A, [n * m, ho, wo, c]), [0, 3, 1, 2]), [n * m * c, ho, wo, 1]) as tf.Tensor4D;
    const k = tf.fill([l.poolSize[0], l.poolSize[1], 1, 1], 1 / (l.poolSize[0] * l.poolSize[1])) as tf.Tensor4D;
    const back = tf.conv2dTranspose(rows, k, [n * m * c, h, w, 1], l.strides, 'valid');
    const out = tf.transpose(tf.reshape(back, [n * m, c, h, w]), [0, 2, 3, 1]);
    return { A: tf.reshape(out, [n, m, h, w, c]), bias: null };
  }
}
