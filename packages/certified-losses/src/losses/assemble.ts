import * as tf from '@tensorflow/tfjs-core';
import type { LossContext, LossOutput } from '../types';
import { CertifiedBatch } from '../certified-batch';
import { l1Penalty, regulariserWeight, shiRegularisers } from '../regularisers';
import type { RelaxationSet } from '@certkd/bounds';
import type { AttackSettings, L1Settings, RegulariserSettings } from '../loss-options';

/**
 * A batch helper with the radius and attack settings of `o` (defaults for what the loss does not
 * use) and the relaxations of its CROWN-style bounds (default: the built-ins).
 */
export function makeBatch(ctx: LossContext, o: Partial<AttackSettings>, relaxations?: RelaxationSet): CertifiedBatch {
  return new CertifiedBatch(ctx, {
    trainEpsMul: o.trainEpsMul ?? 1,
    attackEpsFactor: o.attackEpsFactor ?? 1,
    attack: { steps: o.attackSteps ?? 1, stepSize: o.attackStepSize ?? 10 },
    ...(relaxations ? { relaxations } : {}),
  });
}

/**
 * Starts the regulariser part when enabled: it must run before the main term so that the
 * IBP bound reuses the regularisers' interval trace. Returns a thunk giving the weighted
 * regulariser, or undefined when disabled.
 */
export function prepareRegulariser(batch: CertifiedBatch, o: Partial<RegulariserSettings>): tf.Scalar | undefined {
  if (!o.regularisers) return undefined;
  const { eps, epsMax } = batch.ctx;
  const w = regulariserWeight(o.regulariserWeight ?? 0.5, eps, epsMax);
  if (w === 0) return tf.scalar(0);
  const { tightness, balance } = shiRegularisers(batch.trace(), { tau: o.regulariserTau ?? 0.5 });
  return tf.mul(tf.add(tightness, balance), w) as tf.Scalar;
}

/** total = main + regulariser + l1 * |W|_1, with the named parts, the training radii and the clean statistics. */
export function assemble(
  name: string,
  main: tf.Scalar,
  batch: CertifiedBatch,
  o: L1Settings,
  regulariser: tf.Scalar | undefined,
  extraParts: Record<string, tf.Scalar> = {},
): LossOutput {
  const l1 = o.l1 > 0 ? (tf.mul(l1Penalty(batch.ctx.net), o.l1) as tf.Scalar) : tf.scalar(0);
  const terms = [main, l1, ...(regulariser ? [regulariser] : [])];
  const parts: Record<string, tf.Scalar> = { [name]: main, ...extraParts, l1, ...batch.radiusParts() };
  if (regulariser) parts.regulariser = regulariser;
  const stats = batch.stats();
  return { total: tf.addN(terms) as tf.Scalar, parts, cleanLogits: batch.cleanLogits(), ...(stats.size ? { bnStats: stats } : {}) };
}
