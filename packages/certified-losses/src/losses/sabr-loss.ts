import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { boxAround, ibp } from '@certkd/bounds';
import { attackOptions, l1Option } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { assemble, makeBatch } from './assemble';

export const sabrLossOptions = z.strictObject({
  ...l1Option,
  ...attackOptions,
  /** Small-box radius as a fraction of eps. */
  lambda: z.number().gt(0).max(1).default(0.4),
});
export type SabrLossOptions = z.output<typeof sabrLossOptions>;

/**
 * SABR (Mueller et al. 2023; METHODS 5): L over the IBP bounds of a box of radius lambda eps
 * centred at clip(x_adv, x - eps + lambda eps, x + eps - lambda eps), clipped to [0, 1], with
 * eps the training radius eps_train.
 */
export class SabrLoss implements TrainingLoss {
  readonly name = 'sabr';
  constructor(readonly options: SabrLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options);
    const { x } = ctx;
    const eps = batch.trainEps;
    const lam = this.options.lambda;
    const slack = eps - lam * eps;
    const centre = tf.minimum(tf.maximum(batch.adversarial(), tf.sub(x, slack)), tf.add(x, slack));
    const small = boxAround(centre, lam * eps);
    const zlow = ibp(ctx.net, small, { ...batch.boundMode(), spec: batch.spec() }).lower as tf.Tensor2D;
    return assemble(this.name, lossOverLowerBounds(zlow), batch, this.options, undefined);
  }
}

export const sabrLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'sabr',
  description: 'SABR: IBP loss over a small box (radius lambda eps) around the projected adversarial input',
  options: sabrLossOptions,
  create: (o): TrainingLoss => new SabrLoss(o),
});
