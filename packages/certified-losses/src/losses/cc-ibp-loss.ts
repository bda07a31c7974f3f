import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { alphaOption, attackOptions, l1Option, regulariserOptions } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { assemble, makeBatch, prepareRegulariser } from './assemble';

export const ccIbpLossOptions = z.strictObject({ ...alphaOption(0.5), ...l1Option, ...attackOptions, ...regulariserOptions(false) });
export type CcIbpLossOptions = z.output<typeof ccIbpLossOptions>;

/** L(alpha zlow + (1 - alpha) z(x_adv)) (CC-IBP, De Palma et al. 2024). Scalar. */
export function ccIbpObjective(zlow: tf.Tensor2D, zAdv: tf.Tensor2D, alpha: number): tf.Scalar {
  return tf.tidy(() => lossOverLowerBounds(tf.add(tf.mul(zlow, alpha), tf.mul(zAdv, 1 - alpha)) as tf.Tensor2D));
}

/** CC-IBP (METHODS 5): the loss of the convex combination of IBP and adversarial logit differences. */
export class CcIbpLoss implements TrainingLoss {
  readonly name = 'cc-ibp';
  constructor(readonly options: CcIbpLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options);
    const reg = prepareRegulariser(batch, this.options);
    const main = ccIbpObjective(batch.ibpLower(), batch.adversarialDifferences(), this.options.alpha);
    return assemble(this.name, main, batch, this.options, reg);
  }
}

export const ccIbpLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'cc-ibp',
  description: 'CC-IBP: L(alpha zlow_IBP + (1 - alpha) z(x_adv))',
  options: ccIbpLossOptions,
  create: (o): TrainingLoss => new CcIbpLoss(o),
});
