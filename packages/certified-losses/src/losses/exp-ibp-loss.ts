import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { alphaOption, attackOptions, l1Option, regulariserOptions } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { assemble, makeBatch, prepareRegulariser } from './assemble';

export const expIbpLossOptions = z.strictObject({ ...alphaOption(0.5), ...l1Option, ...attackOptions, ...regulariserOptions(false) });
export type ExpIbpLossOptions = z.output<typeof expIbpLossOptions>;

// Both losses are positive; the floor keeps log finite when one underflows to 0.
const FLOOR = 1e-30;

/** L_IBP^alpha * L_adv^(1 - alpha), as exp of the weighted logs. Scalar. */
export function expIbpObjective(lIbp: tf.Scalar, lAdv: tf.Scalar, alpha: number): tf.Scalar {
  return tf.tidy(() => tf.exp(tf.add(tf.mul(tf.log(tf.maximum(lIbp, FLOOR)), alpha), tf.mul(tf.log(tf.maximum(lAdv, FLOOR)), 1 - alpha))) as tf.Scalar);
}

/** Exp-IBP (METHODS 5): L_IBP^alpha * L_adv^(1 - alpha); parts also report ibp and adv. */
export class ExpIbpLoss implements TrainingLoss {
  readonly name = 'exp-ibp';
  constructor(readonly options: ExpIbpLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options);
    const reg = prepareRegulariser(batch, this.options);
    const lIbp = lossOverLowerBounds(batch.ibpLower());
    const lAdv = lossOverLowerBounds(batch.adversarialDifferences());
    return assemble(this.name, expIbpObjective(lIbp, lAdv, this.options.alpha), batch, this.options, reg, { ibp: lIbp, adv: lAdv });
  }
}

export const expIbpLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'exp-ibp',
  description: 'Exp-IBP: L_IBP^alpha * L_adv^(1 - alpha)',
  options: expIbpLossOptions,
  create: (o): TrainingLoss => new ExpIbpLoss(o),
});
