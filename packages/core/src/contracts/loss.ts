import type * as tf from '@tensorflow/tfjs-core';
import type { Network, BatchStatsMap } from '../network/network';
import type { SeededRng } from '../rng/seeded-rng';
import type { Attack } from './attack';
import type { FeatureTeacher } from './teacher';

/** Everything a training loss sees for one batch. Tensors are in pixel space. */
export interface LossContext {
  net: Network;
  x: tf.Tensor;
  y: tf.Tensor1D;
  /** Current (scheduled) training eps and the target eps. */
  eps: number;
  epsMax: number;
  rng: SeededRng;
  /** epoch (0-based), global step, and fraction of training done. */
  progress: { epoch: number; step: number; fraction: number };
  attack?: Attack;
  teacher?: FeatureTeacher;
  /** Trainable extras a loss owns (e.g. a distillation adapter) are registered here. */
  extraVariables?: tf.Variable[];
}

export interface LossOutput {
  /** Scalar to minimise. */
  total: tf.Scalar;
  /** Named parts for the batch events (e.g. cc-ibp, distill, regulariser, l1). */
  parts: Record<string, tf.Scalar>;
  /** Batch statistics of the clean train-mode pass, for the running-stat update. */
  bnStats?: BatchStatsMap;
  /** Logits of the clean train-mode pass, when the loss computed them (for training accuracy). */
  cleanLogits?: tf.Tensor2D;
}

/** A training objective; `compute` runs inside tf.variableGrads. */
export interface TrainingLoss {
  readonly name: string;
  compute(ctx: LossContext): LossOutput;
  /**
   * Called once before training, before `variables()`: a loss that owns trainable state sized
   * by the network or the teacher (e.g. a feature adapter) creates it here.
   */
  prepare?(net: Network, teacher: FeatureTeacher | undefined, rng: SeededRng): void;
  /** Extra trainable variables owned by the loss (optimised with the network). */
  variables?(): tf.Variable[];
  dispose?(): void;
}
