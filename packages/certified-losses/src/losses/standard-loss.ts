import { z } from 'zod';
import { definePlugin, detachStats, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { l1Option } from '../loss-options';
import { crossEntropy } from '../loss-over-lower-bounds';
import { l1Penalty } from '../regularisers';
import * as tf from '@tensorflow/tfjs-core';

export const standardLossOptions = z.strictObject({ ...l1Option });
export type StandardLossOptions = z.output<typeof standardLossOptions>;

/** Standard training: cross-entropy of the clean batch in train mode (batch statistics), plus L1. */
export class StandardLoss implements TrainingLoss {
  readonly name = 'standard';
  constructor(readonly options: StandardLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const { output, bnStats } = ctx.net.forward(ctx.x, { mode: 'train', collectStats: true });
    const ce = crossEntropy(output as tf.Tensor2D, ctx.y);
    const l1 = this.options.l1 > 0 ? (tf.mul(l1Penalty(ctx.net), this.options.l1) as tf.Scalar) : tf.scalar(0);
    return {
      total: tf.add(ce, l1) as tf.Scalar,
      parts: { standard: ce, l1 },
      cleanLogits: output as tf.Tensor2D,
      ...(bnStats.size ? { bnStats: detachStats(bnStats) } : {}),
    };
  }
}

export const standardLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'standard',
  description: 'Plain cross-entropy on clean inputs (standard training), plus L1',
  options: standardLossOptions,
  create: (o): TrainingLoss => new StandardLoss(o),
});
