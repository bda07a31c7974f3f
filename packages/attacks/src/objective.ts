import * as tf from '@tensorflow/tfjs-core';
import { crossEntropyPerSample, valueAndInputGrad, type AttackRunOptions, type Network } from '@certkd/core';

/**
 * Logits the attacks see: eval mode (running BatchNorm statistics), or train mode with the
 * given frozen batch statistics (METHODS 9.3). Either way samples stay independent, so the
 * gradient of the summed loss is the per-sample gradient.
 */
export function attackLogits(net: Network, x: tf.Tensor, opts?: AttackRunOptions): tf.Tensor2D {
  const out = opts?.bnStats ? net.forward(x, { mode: 'train', bnStats: opts.bnStats }) : net.forward(x, { mode: 'eval' });
  return out.output as tf.Tensor2D;
}

/** The attacks' objective: per-sample cross-entropy [N] of the attack logits at x. */
export function attackObjective(net: Network, y: tf.Tensor1D, opts?: AttackRunOptions): (x: tf.Tensor) => tf.Tensor1D {
  return (x) => crossEntropyPerSample(attackLogits(net, x, opts), y);
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
  const { value, grad } = valueAndInputGrad(attackObjective(net, y, opts), x);
  return { loss: value, grad };
}

/** Per-sample cross-entropy at x without a gradient. */
export function lossAt(net: Network, x: tf.Tensor, y: tf.Tensor1D, opts?: AttackRunOptions): tf.Tensor1D {
  return tf.tidy(() => attackObjective(net, y, opts)(x));
}
