import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, LossContext, LossOutput, PluginDescriptor, TrainingLoss } from '@certkd/core';
import type { RelaxationSet } from '@certkd/bounds';
import { attackOptions, l1Option, l1Penalty, lossRelaxations } from '@certkd/certified-losses';
import { DEFAULT_BATCH_SETTINGS, LossBatch, LossBatchSettings } from './loss-batch';

/** What a custom loss returns for one batch. */
export interface BatchLossResult {
  /** Named scalar parts shown in the batch events. */
  parts: Record<string, tf.Scalar>;
  /** The scalar to minimise; default: the sum of the parts. */
  total?: tf.Scalar;
}

/**
 * Options every loss built on the base understands: the L1 weight, the training radius
 * (trainEpsMul) and the training attack (attackEpsFactor, steps, size), as for the certified losses.
 */
export const baseLossOptions = { ...l1Option, ...attackOptions };
export type BaseLossOptions = { l1: number } & LossBatchSettings;

/**
 * Base class for training losses: builds the batch's LossBatch (shared clean statistics,
 * adversarial inputs, bounds, teacher outputs), calls computeBatch, adds `l1 * sum |W|` as
 * part 'l1' when l1 > 0, reports the training radii (parts box_eps and attack_eps, not summed
 * into the total), and returns the clean statistics for the running-stat update.
 */
export abstract class BatchLoss<O extends Partial<BaseLossOptions> = Partial<BaseLossOptions>> implements TrainingLoss {
  abstract readonly name: string;

  /** `relaxations`: the relaxation set of the batch's CROWN-style bounds (default: the built-ins). */
  constructor(
    readonly options: O,
    readonly relaxations?: RelaxationSet,
  ) {}

  protected abstract computeBatch(batch: LossBatch): BatchLossResult;

  compute(ctx: LossContext): LossOutput {
    const o = this.options;
    const batch = new LossBatch(ctx, {
      trainEpsMul: o.trainEpsMul ?? DEFAULT_BATCH_SETTINGS.trainEpsMul,
      attackEpsFactor: o.attackEpsFactor ?? DEFAULT_BATCH_SETTINGS.attackEpsFactor,
      attackSteps: o.attackSteps ?? DEFAULT_BATCH_SETTINGS.attackSteps,
      attackStepSize: o.attackStepSize ?? DEFAULT_BATCH_SETTINGS.attackStepSize,
      ...(this.relaxations ? { relaxations: this.relaxations } : {}),
    });
    const res = this.computeBatch(batch);
    const parts = { ...res.parts };
    let total = res.total ?? (tf.addN(Object.values(parts)) as tf.Scalar);
    if ((o.l1 ?? 0) > 0) {
      parts.l1 = tf.mul(l1Penalty(ctx.net), o.l1 as number) as tf.Scalar;
      total = tf.add(total, parts.l1) as tf.Scalar;
    }
    Object.assign(parts, batch.radiusParts());
    const stats = batch.stats();
    return { total, parts, cleanLogits: batch.cleanLogits(), ...(stats.size ? { bnStats: stats } : {}) };
  }
}

/** A custom loss in one object: what defineLoss turns into a plugin descriptor. */
export interface LossDefinition<S extends z.ZodType> {
  /** 'distill-loss' (default) or 'certified-loss'. */
  kind?: 'distill-loss' | 'certified-loss';
  name: string;
  description: string;
  /**
   * zod schema of the options; spread `baseLossOptions` into it for l1 and the attack settings,
   * and `relaxationOption` when the loss uses `batch.crownIbpLower()` (its `relaxations` choice
   * is then resolved through the run's registry).
   */
  options: S;
  /** One batch: return the named parts (and optionally the total). Options are already parsed. */
  compute(batch: LossBatch, options: z.output<S>): BatchLossResult;
}

/**
 * Make a loss plugin descriptor from a compute function over a LossBatch; register it with
 * `registry.register(defineLoss({...}), 'my-package')`. See docs/plugins/loss.md.
 */
export function defineLoss<S extends z.ZodType>(def: LossDefinition<S>): PluginDescriptor<TrainingLoss, z.output<S>> {
  return definePlugin({
    kind: def.kind ?? 'distill-loss',
    name: def.name,
    description: def.description,
    options: def.options,
    create: (o: z.output<S>, services): TrainingLoss => {
      class DefinedLoss extends BatchLoss<Partial<BaseLossOptions>> {
        readonly name = def.name;
        protected computeBatch(batch: LossBatch): BatchLossResult {
          return def.compute(batch, o);
        }
      }
      const choice = (o as { relaxations?: Record<string, string> }).relaxations;
      return new DefinedLoss(o as Partial<BaseLossOptions>, choice ? lossRelaxations(services.registry, choice) : undefined);
    },
  }) as PluginDescriptor<TrainingLoss, z.output<S>>;
}
