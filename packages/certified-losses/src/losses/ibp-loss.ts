import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import { l1Option, radiusOptions, regulariserOptions } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { assemble, makeBatch, prepareRegulariser } from './assemble';

export const ibpLossOptions = z.strictObject({ ...l1Option, ...radiusOptions, ...regulariserOptions(true) });
export type IbpLossOptions = z.output<typeof ibpLossOptions>;

/** IBP training (METHODS 5/6): L(zlow_IBP), with Shi et al.'s regularisers while eps ramps. */
export class IbpLoss implements TrainingLoss {
  readonly name = 'ibp';
  constructor(readonly options: IbpLossOptions) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options);
    const reg = prepareRegulariser(batch, this.options);
    return assemble(this.name, lossOverLowerBounds(batch.ibpLower()), batch, this.options, reg);
  }
}

export const ibpLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'ibp',
  description: 'IBP loss L(zlow) over interval bounds, with optional Shi et al. 2021 regularisers and L1',
  options: ibpLossOptions,
  create: (o): TrainingLoss => new IbpLoss(o),
});
