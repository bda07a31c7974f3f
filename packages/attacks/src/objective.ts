import * as tf from '@tensorflow/tfjs-core';
import type { AttackRunOptions, Network } from '@certkd/core';

/**
 * Logits the attacks see: eval mode (running BatchNorm statistics), or train mode with the
 * given frozen batch statistics (METHODS 9.3). Either way samples stay independent, so the
 * gradient of the summed loss is the per-sample gradient.
 */
export function attackLogits(net: Network, x: tf.Tensor, opts?: AttackRunOptions): tf.Tensor2D {
  const out = opts?.bnStats ? net.forward(x, { mode: 'train', bnStats: opts.bnStats }) : net.forward(x, { mode: 'eval' });
  return out.output as tf.Tensor2D;
}

/** Per-sample cross-entropy [N] of logits [N, K] for int labels [N], via log-sum-exp. */
export function perSampleCrossEntropy(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.cast(y, 'int32'), k)), 1);
    return tf.sub(tf.logSumExp(logits, 1), picked) as tf.Tensor1D;
  });
}

export interface LossAndGrad {
  /** Per-sample loss [N]. */
  loss: tf.Tensor1D;
  /** Gradient of the loss w.r.t. the input, shape of x. */
  grad: tf.Tensor;
}

/**
 * Per-sample cross-entropy at x and its input gradient. Differentiates w.r.t. x only
 * (tf.grad, never tf.variableGrads), so nothing is computed for or applied to the weights.
 */
export function lossAndInputGrad(net: Network, x: tf.Tensor, y: tf.Tensor1D, opts?: AttackRunOptions): LossAndGrad {
  let perSample: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => {
    perSample = tf.keep(perSampleCrossEntropy(attackLogits(net, xi, opts), y));
    return tf.sum(perSample) as tf.Scalar;
  })(x);
  value.dispose();
  return { loss: perSample as tf.Tensor1D, grad };
}

/** Per-sample cross-entropy at x without a gradient. */
export function lossAt(net: Network, x: tf.Tensor, y: tf.Tensor1D, opts?: AttackRunOptions): tf.Tensor1D {
  return tf.tidy(() => perSampleCrossEntropy(attackLogits(net, x, opts), y));
}

/**
 * A copy of t that is disconnected from every gradient tape: an attack called inside a
 * training step (tf.variableGrads) must not let the outer backward pass walk through the
 * attack's own forward and backward operations.
 */
export function detach<T extends tf.Tensor>(t: T): T {
  return tf.tensor(t.dataSync(), t.shape, t.dtype) as T;
}

/** Rows of `a` where cond [N] is true, rows of `b` elsewhere (a and b share shape [N, ...]). */
export function selectRows(cond: tf.Tensor1D, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = [cond.shape[0], ...a.shape.slice(1).map(() => 1)];
    return tf.where(tf.broadcastTo(tf.reshape(cond, shape), a.shape), a, b);
  });
}

/** Replace `state[key]` with a new tensor, disposing the old one. */
export function swap<T extends tf.Tensor>(old: T | undefined, next: T): T {
  if (old && old !== next) old.dispose();
  return next;
}

/** Keep the per-sample best (highest loss) of the tracked iterate and a candidate. Disposes the previous best. */
export class BestTracker {
  x: tf.Tensor | undefined;
  loss: tf.Tensor1D | undefined;

  offer(x: tf.Tensor, loss: tf.Tensor1D): void {
    if (!this.x || !this.loss) {
      this.x = tf.clone(x);
      this.loss = tf.clone(loss);
      return;
    }
    const prevX = this.x;
    const prevLoss = this.loss;
    const [nx, nl] = tf.tidy(() => {
      const better = tf.greater(loss, prevLoss) as tf.Tensor1D;
      return [selectRows(better, x, prevX), tf.maximum(loss, prevLoss) as tf.Tensor1D] as const;
    });
    prevX.dispose();
    prevLoss.dispose();
    this.x = nx;
    this.loss = nl;
  }

  dispose(): void {
    this.x?.dispose();
    this.loss?.dispose();
    this.x = this.loss = undefined;
  }
}
