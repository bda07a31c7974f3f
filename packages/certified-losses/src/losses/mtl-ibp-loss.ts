import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { alphaOption, attackOptions, l1Option, regulariserOptions } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { assemble, makeBatch, prepareRegulariser } from './assemble';

export const mtlIbpLossOptions = z.strictObject({ ...alphaOption(0.5), ...l1Option, ...attackOptions, ...regulariserOptions(false) });
export type MtlIbpLossOptions = z.output<typeof mtlIbpLossOptions>;

/** MTL-IBP (METHODS 5): alpha L_IBP + (1 - alpha) L_adv; parts also report ibp and adv. */
export class MtlIbpLoss implements TrainingLoss {
  readonly name = 'mtl-ibp';
  constructor(readonly options: MtlIbpLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options);
    const reg = prepareRegulariser(batch, this.options);
    const a = this.options.alpha;
    const lIbp = lossOverLowerBounds(batch.ibpLower());
    const lAdv = lossOverLowerBounds(batch.adversarialDifferences());
    const main = tf.add(tf.mul(lIbp, a), tf.mul(lAdv, 1 - a)) as tf.Scalar;
    return assemble(this.name, main, batch, this.options, reg, { ibp: lIbp, adv: lAdv });
  }
}

export const mtlIbpLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'mtl-ibp',
  description: 'MTL-IBP: alpha L_IBP + (1 - alpha) L_adv',
  options: mtlIbpLossOptions,
  create: (o): TrainingLoss => new MtlIbpLoss(o),
});
