import * as tf from '@tensorflow/tfjs-core';
import { batchRandomUniform, ConfigError, InputBox, Network, SeededRng } from '@certkd/core';
import { crossEntropyPerSample } from './loss-over-lower-bounds';

export interface TrainingAttackOptions {
  /** Number of PGD steps (1 with size 10 = random-start FGSM landing on a vertex). */
  steps: number;
  /** Step size as a multiple of the box half-width. */
  stepSize: number;
}

/**
 * The built-in training attack (METHODS 4/5): PGD on cross-entropy from a uniform random
 * start inside the box, x <- clip_box(x + stepSize * halfwidth * sign(grad)), keeping per
 * sample the post-step iterate with the highest loss. BatchNorm in eval mode (as the
 * reference's pgd1). Returns the adversarial inputs (pixel space, same shape as x); the
 * caller detaches them.
 */
export function randomStartPgd(net: Network, y: tf.Tensor1D, box: InputBox, rng: SeededRng, opts: TrainingAttackOptions): tf.Tensor {
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new ConfigError(`must be a positive integer, got ${opts.steps}`, undefined, 'attackSteps');
  if (!(opts.stepSize > 0)) throw new ConfigError(`must be > 0, got ${opts.stepSize}`, undefined, 'attackStepSize');
  return tf.tidy(() => {
    const { lower, upper } = box;
    const half = tf.div(tf.sub(upper, lower), 2);
    let xa: tf.Tensor = tf.add(lower, tf.mul(tf.sub(upper, lower), batchRandomUniform(lower.shape, 0, 1, rng.nextSeed())));
    let best: tf.Tensor | undefined;
    let bestLoss: tf.Tensor1D | undefined;
    for (let s = 0; s < opts.steps; s++) {
      let lossAtXa: tf.Tensor1D | undefined;
      const g = tf.grad((xi: tf.Tensor) => {
        const l = crossEntropyPerSample(net.predict(xi), y);
        lossAtXa = tf.keep(tf.clone(l));
        return tf.sum(l);
      })(xa);
      // lossAtXa is the loss of the previous post-step iterate (s > 0): compare it now.
      if (s > 0) [best, bestLoss] = keepBetter(xa, tf.clone(lossAtXa!), best, bestLoss);
      lossAtXa!.dispose();
      xa = tf.minimum(tf.maximum(tf.add(xa, tf.mul(tf.mul(half, opts.stepSize), tf.sign(g))), lower), upper);
    }
    if (opts.steps === 1) return xa;
    const last = crossEntropyPerSample(net.predict(xa), y);
    return keepBetter(xa, last, best, bestLoss)[0];
  });
}

function keepBetter(x: tf.Tensor, loss: tf.Tensor1D, best?: tf.Tensor, bestLoss?: tf.Tensor1D): [tf.Tensor, tf.Tensor1D] {
  if (!best || !bestLoss) return [x, loss];
  const better = tf.greater(loss, bestLoss);
  const mask = tf.reshape(better, [better.shape[0], ...x.shape.slice(1).map(() => 1)]);
  return [tf.where(tf.broadcastTo(mask, x.shape), x, best), tf.where(better, loss, bestLoss) as tf.Tensor1D];
}
