import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, TrainingLoss } from '@certkd/core';
import type { RelaxationSet } from '@certkd/bounds';
import { l1Option, lossRelaxations, radiusOptions, regulariserOptions, relaxationOption } from '../loss-options';
import { lossOverLowerBounds } from '../loss-over-lower-bounds';
import { crownIbpBeta } from '../eps-schedule';
import { assemble, makeBatch, prepareRegulariser } from './assemble';

export const crownIbpLossOptions = z.strictObject({ ...l1Option, ...radiusOptions, ...regulariserOptions(false), ...relaxationOption });
export type CrownIbpLossOptions = z.output<typeof crownIbpLossOptions>;

/**
 * CROWN-IBP training (Zhang et al. 2020; METHODS 3): L(b_t zlow_CROWN-IBP + (1 - b_t) zlow_IBP)
 * with b_t = 1 - eps_t / epsMax; the CROWN pass is skipped once b_t is 0. The CROWN-IBP pass uses
 * `relaxations` (the `relaxations` option resolved through the run's registry; default: the built-ins).
 */
export class CrownIbpLoss implements TrainingLoss {
  readonly name = 'crown-ibp';
  constructor(
    readonly options: CrownIbpLossOptions,
    readonly relaxations?: RelaxationSet,
  ) {}

  compute(ctx: LossContext): LossOutput {
    const batch = makeBatch(ctx, this.options, this.relaxations);
    const reg = prepareRegulariser(batch, this.options);
    const b = crownIbpBeta(ctx.eps, ctx.epsMax);
    const zIbp = batch.ibpLower();
    const zlow = b > 0 ? tf.add(tf.mul(batch.crownIbpLower(), b), tf.mul(zIbp, 1 - b)) : zIbp;
    return assemble(this.name, lossOverLowerBounds(zlow as tf.Tensor2D), batch, this.options, reg);
  }
}

export const crownIbpLossPlugin = definePlugin({
  kind: 'certified-loss',
  name: 'crown-ibp',
  description: 'CROWN-IBP loss: CROWN-IBP and IBP lower bounds mixed with b_t going 1 -> 0 as eps ramps',
  options: crownIbpLossOptions,
  create: (o, s): TrainingLoss => new CrownIbpLoss(o, o.relaxations ? lossRelaxations(s.registry, o.relaxations) : undefined),
});
