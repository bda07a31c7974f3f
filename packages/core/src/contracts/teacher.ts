import type * as tf from '@tensorflow/tfjs-core';

/** A frozen teacher: eval-mode forward only, never trained by the student's optimiser. */
export interface FeatureTeacher {
  readonly name: string;
  /** Width d of the feature tap. */
  readonly featureWidth: number;
  /** Features at the tap for pixel-space inputs x, shape [N, d]; no gradient. */
  features(x: tf.Tensor): tf.Tensor2D;
  logits(x: tf.Tensor): tf.Tensor2D;
  dispose(): void;
}
