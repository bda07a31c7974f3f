import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { batchMean, ConfigError, definePlugin, FeatureTeacher, LossContext, Network, SeededRng, TrainingLoss } from '@certkd/core';
import { BatchLoss, BatchLossResult, baseLossOptions } from './batch-loss';
import { LossBatch } from './loss-batch';
import { intervalThroughLinear } from './interval-linear';
import { ccIbpObjective } from '@certkd/certified-losses';

export const ccDistOptions = z.strictObject({
  ...baseLossOptions,
  /** CC-IBP convex-combination weight, also used for the feature box. */
  alpha: z.number().min(0).max(1).default(0.5),
  /** Weight of the distillation term; default 5 / d with d the teacher's feature width. */
  beta: z.number().min(0).optional(),
  /** Linear adapter from student to teacher features: auto = only when the widths differ. */
  adapter: z.enum(['auto', 'always', 'never']).default('auto'),
});
export type CcDistOptions = z.output<typeof ccDistOptions>;

/**
 * The convex-combination feature box (METHODS 7): lhat = (1 - alpha) phi + alpha l,
 * uhat = (1 - alpha) phi + alpha u, all [N, d].
 */
export function convexFeatureBox(phi: tf.Tensor2D, lower: tf.Tensor2D, upper: tf.Tensor2D, alpha: number): { lower: tf.Tensor2D; upper: tf.Tensor2D } {
  return tf.tidy(() => {
    const base = tf.mul(phi, 1 - alpha);
    return { lower: tf.add(base, tf.mul(lower, alpha)) as tf.Tensor2D, upper: tf.add(base, tf.mul(upper, alpha)) as tf.Tensor2D };
  });
}

/**
 * Worst-case squared error between the box [lhat, uhat] and the targets t ([N, d]):
 * mean over the batch of sum_k max((lhat_k - t_k)^2, (uhat_k - t_k)^2). Scalar.
 */
export function worstCaseDistillation(lhat: tf.Tensor2D, uhat: tf.Tensor2D, t: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => batchMean(tf.sum(tf.maximum(tf.square(tf.sub(lhat, t)), tf.square(tf.sub(uhat, t))), 1)));
}

/**
 * CC-Dist (METHODS 7): CC-IBP(alpha) from the IBP feature box of the penultimate features
 * through the affine head, plus beta times the worst-case distillation term against the
 * frozen teacher's clean features. With differing widths a learned adapter A [d_s, d_t]
 * maps the student's features (and, soundly, its box) to the teacher's width.
 * Parts: cc-ibp, distill (beta D), l1.
 */
export class CcDistLoss extends BatchLoss<CcDistOptions> {
  readonly name = 'cc-dist';
  private adapter?: tf.Variable;

  protected computeBatch(batch: LossBatch): BatchLossResult {
    const o = this.options;
    const a = o.alpha;
    // The CC-IBP term first, in CC-IBP's order: the tape's order decides how gradients from
    // several passes are summed, so this keeps beta = 0 equal to CC-IBP to the bit.
    const ccIbp = ccIbpObjective(batch.ibpLower(), batch.adversarialDifferences(), a);

    const phi = batch.adversarialFeatures();
    const t = batch.teacherFeatures(this.name);
    const dT = t.shape[1];
    let { lower, upper } = batch.featureBox();
    let feat = phi;
    const A = this.adapterFor(batch.ctx, phi.shape[1], dT) as tf.Tensor2D | undefined;
    if (A) {
      ({ lower, upper } = intervalThroughLinear(lower, upper, A));
      feat = tf.matMul(phi, A);
    }
    const box = convexFeatureBox(feat, lower, upper, a);
    const d = worstCaseDistillation(box.lower, box.upper, t);
    const beta = o.beta ?? 5 / dT;
    return { parts: { 'cc-ibp': ccIbp, distill: tf.mul(d, beta) as tf.Scalar } };
  }

  /**
   * Create the adapter before training when the widths differ (or adapter is 'always'), so
   * that variables() lists it when the optimiser is built. Call before variables().
   */
  prepare(net: Network, teacher: FeatureTeacher, rng: SeededRng): void {
    const dS = net.widthAt(net.tapIndex('penultimate'));
    if (this.needsAdapter(dS, teacher.featureWidth)) this.ensureAdapter(dS, teacher.featureWidth, rng);
  }

  private needsAdapter(dS: number, dT: number): boolean {
    const mode = this.options.adapter;
    if (mode === 'always') return true;
    if (dS === dT) return false;
    if (mode === 'never') {
      throw new ConfigError(
        `student features have width ${dS} but the teacher's have ${dT}; set adapter: auto (or always) to learn a linear map`,
        undefined,
        'cc-dist.adapter',
      );
    }
    return true;
  }

  private adapterFor(ctx: LossContext, dS: number, dT: number): tf.Variable | undefined {
    if (!this.needsAdapter(dS, dT)) return undefined;
    if (!this.adapter) {
      if (!ctx.extraVariables) {
        throw new ConfigError(
          `cc-dist needs a ${dS} x ${dT} feature adapter, which must be trained with the network: call prepare(net, teacher, rng) before building the optimiser, or pass ctx.extraVariables`,
          undefined,
          'cc-dist.adapter',
        );
      }
      this.ensureAdapter(dS, dT, ctx.rng);
      ctx.extraVariables.push(this.adapter!);
    }
    return this.ensureAdapter(dS, dT, ctx.rng);
  }

  private ensureAdapter(dS: number, dT: number, rng: SeededRng): tf.Variable {
    if (this.adapter && (this.adapter.shape[0] !== dS || this.adapter.shape[1] !== dT)) {
      throw new ConfigError(
        `the adapter is [${this.adapter.shape}] but features are ${dS} -> ${dT}; one loss serves one student/teacher pair`,
        undefined,
        'cc-dist.adapter',
      );
    }
    if (!this.adapter) {
      // N(0, 1/d_s) from the run's seeded generator, so reruns are identical.
      const values = new Float32Array(dS * dT);
      const s = Math.sqrt(1 / dS);
      for (let i = 0; i < values.length; i++) values[i] = rng.normal() * s;
      this.adapter = tf.variable(tf.tensor2d(values, [dS, dT]), true, `cc-dist-adapter-${dS}x${dT}-${adapterCount++}`);
    }
    return this.adapter;
  }

  /** The adapter matrix once created (on the first batch that needs it). */
  variables(): tf.Variable[] {
    return this.adapter ? [this.adapter] : [];
  }

  dispose(): void {
    this.adapter?.dispose();
    this.adapter = undefined;
  }
}
let adapterCount = 0;

export const ccDistPlugin = definePlugin({
  kind: 'distill-loss',
  name: 'cc-dist',
  description: 'CC-Dist: CC-IBP plus worst-case feature distillation from a frozen robust teacher (beta default 5/d)',
  options: ccDistOptions,
  create: (o): TrainingLoss => new CcDistLoss(o),
});
