import * as tf from '@tensorflow/tfjs-core';
import {
  batchMean,
  ConfigError,
  crossEntropyPerSample,
  disposeBox,
  linfBox,
  type LossContext,
  type LossOutput,
  type Network,
  type TrainingLoss,
} from '@certkd/core';
import { maximizeInBox } from './inner-max';

export interface PgdAtOptions {
  /** PGD steps of the inner maximisation (10 for training, Madry et al. 2018). */
  steps: number;
  /** Step in units of the box half-width (0.25 = eps/4 on an unclipped box, i.e. 2/255 at 8/255). */
  stepSize: number;
  restarts: number;
  /**
   * Use the attack the pipeline passes in ctx.attack instead of the built-in PGD (an error if
   * none is given). The built-in one is the same L-inf PGD as @certkd/attacks' 'pgd'.
   */
  useContextAttack: boolean;
}

export const DEFAULT_PGD_AT_OPTIONS: PgdAtOptions = { steps: 10, stepSize: 0.25, restarts: 1, useContextAttack: false };

function evalLogits(net: Network, x: tf.Tensor): tf.Tensor2D {
  return net.forward(x, { mode: 'eval' }).output as tf.Tensor2D;
}

/**
 * PGD adversarial training (Madry et al. 2018): mean CE of the train-mode network on
 * x_adv = PGD(x, eps = ctx.eps). x_adv is generated with BatchNorm in eval mode (running
 * statistics, so samples stay independent and the running statistics untouched), then the
 * network is forwarded on x_adv in train mode and its batch statistics are returned for the
 * running-stat update. Parts: { adv } (= total). At eps = 0 this is standard training.
 */
export class PgdAtLoss implements TrainingLoss {
  readonly name = 'pgd-at';
  readonly options: PgdAtOptions;

  constructor(options: Partial<PgdAtOptions> = {}) {
    this.options = { ...DEFAULT_PGD_AT_OPTIONS, ...options };
  }

  /** The adversarial inputs for this batch (no gradient history). */
  adversarial(ctx: LossContext): tf.Tensor {
    const { net, x, y, eps, rng } = ctx;
    if (!(eps >= 0)) throw new ConfigError(`eps must be >= 0, got ${eps}`, undefined, 'teacher pgd-at');
    if (eps === 0) return tf.clone(x);
    const box = linfBox(x, eps);
    try {
      if (this.options.useContextAttack) {
        if (!ctx.attack) throw new ConfigError('useContextAttack is set but the training step passed no attack', undefined, 'teacher pgd-at.useContextAttack');
        const res = ctx.attack.run(net, x, y, box, rng);
        res.loss.dispose();
        return res.x;
      }
      return maximizeInBox((xi) => crossEntropyPerSample(evalLogits(net, xi), y), x, box, rng, { ...this.options, start: 'uniform' });
    } finally {
      disposeBox(box);
    }
  }

  compute(ctx: LossContext): LossOutput {
    const xAdv = this.adversarial(ctx);
    try {
      const out = ctx.net.forward(xAdv, { mode: 'train', collectStats: true });
      const adv = batchMean(crossEntropyPerSample(out.output as tf.Tensor2D, ctx.y)) as tf.Scalar;
      return { total: adv, parts: { adv }, bnStats: out.bnStats };
    } finally {
      xAdv.dispose();
    }
  }
}
