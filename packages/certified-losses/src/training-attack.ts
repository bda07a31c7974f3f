import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, crossEntropyPerSample, signedGradientAscent, InputBox, Network, SeededRng } from '@certkd/core';

export interface TrainingAttackOptions {
  /** Number of PGD steps (1 with size 10 = random-start FGSM landing on a vertex). */
  steps: number;
  /** Step size as a multiple of the box half-width. */
  stepSize: number;
}

/**
 * The built-in training attack (METHODS 4/5): PGD on cross-entropy from a uniform random
 * start inside the box, x <- clip_box(x + stepSize * halfwidth * sign(grad)), keeping per
 * sample the post-step iterate with the highest loss (the start itself is not a candidate, so
 * one step returns the point it reaches). BatchNorm in eval mode (as the reference's pgd1).
 * Core's signedGradientAscent runs the loop. Returns the adversarial inputs (pixel space, same
 * shape as x), detached.
 */
export function randomStartPgd(net: Network, y: tf.Tensor1D, box: InputBox, rng: SeededRng, opts: TrainingAttackOptions): tf.Tensor {
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new ConfigError(`must be a positive integer, got ${opts.steps}`, undefined, 'attackSteps');
  if (!(opts.stepSize > 0)) throw new ConfigError(`must be > 0, got ${opts.stepSize}`, undefined, 'attackStepSize');
  const objective = (x: tf.Tensor) => crossEntropyPerSample(net.predict(x), y);
  const r = signedGradientAscent(objective, box.lower, box, rng, {
    steps: opts.steps,
    stepSize: opts.stepSize,
    start: 'uniform',
    includeStart: false,
    needValue: false,
  });
  r.value?.dispose();
  return r.x;
}
