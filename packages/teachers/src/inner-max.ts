import * as tf from '@tensorflow/tfjs-core';
import { signedGradientAscent, type InputBox, type SeededRng } from '@certkd/core';

/**
 * The inner maximisation of adversarial training: core's signedGradientAscent (the same loop
 * as @certkd/attacks' PGD) on a per-sample objective, projected onto the box, keeping each
 * sample's best iterate.
 */
export interface InnerMaxOptions {
  /** Gradient steps per restart (0: return the start point). */
  steps: number;
  /** Step in units of the per-element box half-width (0.25 = eps/4 on an unclipped box). */
  stepSize: number;
  /** Independent starts; the per-sample best over all of them is returned. */
  restarts: number;
  /** 'uniform': uniform in the box (Madry); 'near-clean': x + 0.001 N(0, 1), clipped (TRADES). */
  start: 'uniform' | 'near-clean';
}

/**
 * Maximise objective(x') [N] over x' in the box from the chosen start. The objective must be
 * per-sample (eval-mode BatchNorm keeps samples independent). The result has no gradient
 * history, so a training step's outer tape never walks through the attack.
 */
export function maximizeInBox(objective: (x: tf.Tensor) => tf.Tensor1D, x: tf.Tensor, box: InputBox, rng: SeededRng, o: InnerMaxOptions): tf.Tensor {
  const r = signedGradientAscent(objective, x, box, rng, { steps: o.steps, restarts: o.restarts, stepSize: o.stepSize, start: o.start, needValue: false });
  r.value?.dispose();
  return r.x;
}

/** Per-sample KL(p || q) [N] with p = softmax(pLogits), q = softmax(qLogits). */
export function klPerSample(pLogits: tf.Tensor2D, qLogits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(pLogits);
    const logQ = tf.logSoftmax(qLogits);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1) as tf.Tensor1D;
  });
}
