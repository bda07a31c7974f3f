import type * as tf from '@tensorflow/tfjs-core';
import type { Network } from '../network/network';
import type { SeededRng } from '../rng/seeded-rng';

/** An input box in pixel space (already clipped to the valid range), same shape as x. */
export interface InputBox {
  lower: tf.Tensor;
  upper: tf.Tensor;
}

export interface AttackResult {
  /** Adversarial inputs inside the box. */
  x: tf.Tensor;
  /** Per-sample loss at those inputs [N]. */
  loss: tf.Tensor1D;
}

/**
 * An attack: maximises a per-sample loss (cross-entropy unless stated) over the box. Runs with
 * BatchNorm in eval mode (unless `bnStats` are given); no gradient reaches the weights.
 */
export interface Attack {
  readonly name: string;
  run(net: Network, x: tf.Tensor, y: tf.Tensor1D, box: InputBox, rng: SeededRng, opts?: AttackRunOptions): AttackResult;
}

export interface AttackRunOptions {
  /** Forward the network in train mode with these batch statistics (METHODS 9.3). */
  bnStats?: import('../network/network').BatchStatsMap;
}
