import * as tf from '@tensorflow/tfjs-core';

/** Rows of `a` where cond [N] is true, rows of `b` elsewhere (a and b share shape [N, ...]). */
export function selectRows(cond: tf.Tensor1D, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = [cond.shape[0], ...a.shape.slice(1).map(() => 1)];
    return tf.where(tf.broadcastTo(tf.reshape(cond, shape), a.shape), a, b);
  });
}

/**
 * The per-sample best (highest value) of the points offered so far; ties keep the earlier
 * point. Owns its tensors: `dispose()` releases them.
 */
export class BestTracker {
  x: tf.Tensor | undefined;
  value: tf.Tensor1D | undefined;

  /** Whether a point has been offered. */
  get empty(): boolean {
    return !this.x;
  }

  offer(x: tf.Tensor, value: tf.Tensor1D): void {
    if (!this.x || !this.value) {
      this.x = tf.clone(x);
      this.value = tf.clone(value);
      return;
    }
    const prevX = this.x;
    const prevValue = this.value;
    const [nx, nv] = tf.tidy(() => {
      const better = tf.greater(value, prevValue) as tf.Tensor1D;
      return [selectRows(better, x, prevX), tf.maximum(value, prevValue) as tf.Tensor1D] as const;
    });
    prevX.dispose();
    prevValue.dispose();
    this.x = nx;
    this.value = nv;
  }

  dispose(): void {
    this.x?.dispose();
    this.value?.dispose();
    this.x = this.value = undefined;
  }
}
