import * as tf from '@tensorflow/tfjs-core';
import { batchMean, ConfigError, crossEntropyPerSample, detach, disposeBox, linfBox, type LossContext, type LossOutput, type TrainingLoss } from '@certkd/core';
import { klPerSample, maximizeInBox } from './inner-max';

export interface TradesOptions {
  /** Weight of the robust (KL) term; 6 in Zhang et al. 2019. */
  beta: number;
  /** Steps of the KL maximisation. */
  steps: number;
  /** Step in units of the box half-width (0.25 ~ 0.007 at eps 0.031 as in the paper). */
  stepSize: number;
  restarts: number;
}

export const DEFAULT_TRADES_OPTIONS: TradesOptions = { beta: 6, steps: 10, stepSize: 0.25, restarts: 1 };

/**
 * TRADES (Zhang et al. 2019): CE(f(x), y) + beta * KL(f(x) || f(x_adv)), with x_adv maximising
 * the KL to the clean prediction over the eps box (start x + 0.001 N(0, 1)). The maximisation
 * runs with eval-mode BatchNorm against the fixed clean distribution; both loss terms use
 * train-mode passes (each batch its own statistics, as in the reference training). The clean
 * pass's statistics are returned. Parts: { natural, robust } (robust unweighted).
 */
export class TradesLoss implements TrainingLoss {
  readonly name = 'trades';
  readonly options: TradesOptions;

  constructor(options: Partial<TradesOptions> = {}) {
    this.options = { ...DEFAULT_TRADES_OPTIONS, ...options };
    if (!(this.options.beta >= 0)) throw new ConfigError(`beta must be >= 0, got ${this.options.beta}`, undefined, 'teacher trades.beta');
  }

  /** x_adv maximising KL(f(x) || f(x')) in the box (no gradient history). */
  adversarial(ctx: LossContext): tf.Tensor {
    const { net, x, eps, rng } = ctx;
    if (!(eps >= 0)) throw new ConfigError(`eps must be >= 0, got ${eps}`, undefined, 'teacher trades');
    if (eps === 0) return tf.clone(x);
    const clean = tf.tidy(() => detach(net.forward(x, { mode: 'eval' }).output as tf.Tensor2D)); // fixed target, no tape
    const box = linfBox(x, eps);
    try {
      return maximizeInBox((xi) => klPerSample(clean, net.forward(xi, { mode: 'eval' }).output as tf.Tensor2D), x, box, rng, {
        ...this.options,
        start: 'near-clean',
      });
    } finally {
      clean.dispose();
      disposeBox(box);
    }
  }

  compute(ctx: LossContext): LossOutput {
    const xAdv = this.adversarial(ctx);
    try {
      const cleanOut = ctx.net.forward(ctx.x, { mode: 'train', collectStats: true });
      const advOut = ctx.net.forward(xAdv, { mode: 'train' });
      const cleanLogits = cleanOut.output as tf.Tensor2D;
      const natural = batchMean(crossEntropyPerSample(cleanLogits, ctx.y)) as tf.Scalar;
      const robust = batchMean(klPerSample(cleanLogits, advOut.output as tf.Tensor2D)) as tf.Scalar;
      const total = tf.add(natural, tf.mul(robust, this.options.beta)) as tf.Scalar;
      return { total, parts: { natural, robust }, bnStats: cleanOut.bnStats };
    } finally {
      xAdv.dispose();
    }
  }
}
