import * as tf from '@tensorflow/tfjs-core';
import type { BackwardResult, Interval, LayerContext, Relaxation } from '../types';

/** Flatten: moves bounds unchanged. */
export class FlattenRelaxation implements Relaxation {
  readonly name = 'flatten';
  readonly layerKind = 'flatten' as const;
  readonly needsInputBounds = false;

  interval(ctx: LayerContext, input: Interval): Interval {
    const n = input.center.shape[0];
    return { center: tf.reshape(input.center, [n, -1]), radius: tf.reshape(input.radius, [n, -1]) };
  }

  backward(ctx: LayerContext, A: tf.Tensor): BackwardResult {
    const s = A.shape as number[];
    return { A: tf.reshape(A, [s[0], s[1], ...ctx.inShape]), bias: null };
  }
}

/** A feature tap is the identity. */
export class TapRelaxation implements Relaxation {
  readonly name = 'tap';
  readonly layerKind = 'tap' as const;
  readonly needsInputBounds = false;

  interval(_ctx: LayerContext, input: Interval): Interval {
    return { center: tf.clone(input.center), radius: tf.clone(input.radius) };
  }

  backward(_ctx: LayerContext, A: tf.Tensor): BackwardResult {
    return { A: tf.clone(A), bias: null };
  }
}
