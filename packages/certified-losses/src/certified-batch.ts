import * as tf from '@tensorflow/tfjs-core';
import { detach } from '@certkd/core';
import type { BatchStatsMap, BoundOptionsLike, InputBox, LossContext } from './types';
import { boxAround, crownIbp, ibp, specMatrix, type RelaxationSet } from '@certkd/bounds';
import { randomStartPgd, TrainingAttackOptions } from './training-attack';
import { headLayerIndex, headLogits, headLowerBound } from './head-bounds';
import { intervalTrace, IntervalTrace } from './interval-trace';
import { applySpec } from './logit-differences';

export interface CertifiedBatchSettings {
  /** Training radius eps_train = trainEpsMul * eps_t: the IBP box and the attack (METHODS 5). */
  trainEpsMul: number;
  /** Attack radius eps_att = attackEpsFactor * eps_train (the box stays at eps_train). */
  attackEpsFactor: number;
  /** The built-in attack's settings (used when the context brings no attack). */
  attack: TrainingAttackOptions;
  /** Relaxations for the CROWN-style bounds (crownIbpLower); default: the built-in set. */
  relaxations?: RelaxationSet;
}

/**
 * One batch's shared computations for the certified losses, each made once on first use,
 * following the batch-norm policy of METHODS 9.3: a train-mode clean pass collects the
 * batch statistics (detached, as the reference does); the attack runs in eval mode; the
 * adversarial and bound passes use the clean statistics. @certkd/distill-losses' LossBatch
 * extends it with feature and teacher blocks.
 */
export class CertifiedBatch {
  private cache = new Map<string, unknown>();

  constructor(
    readonly ctx: LossContext,
    readonly settings: CertifiedBatchSettings,
  ) {}

  get classes(): number {
    return this.ctx.net.outputShape[this.ctx.net.outputShape.length - 1];
  }

  /**
   * Clean-batch BatchNorm statistics (empty when the network has no BatchNorm). They stay on the
   * gradient tape, as in ordinary BatchNorm training: the adversarial and bound passes reuse their
   * values (METHODS 9.3) and the loss's gradient reaches the weights through them too.
   */
  stats(): BatchStatsMap {
    return this.clean().stats;
  }

  /** Logits of the clean train-mode pass [N, K] (for training accuracy; the same pass gives the statistics). */
  cleanLogits(): tf.Tensor2D {
    return this.clean().logits;
  }

  private clean(): { stats: BatchStatsMap; logits: tf.Tensor2D } {
    return this.once('clean', () => {
      const { output, bnStats } = this.ctx.net.forward(this.ctx.x, { mode: 'train', collectStats: true });
      return { stats: bnStats, logits: output as tf.Tensor2D };
    });
  }

  /** Options for bound and forward passes in train mode with the clean statistics. */
  boundMode(): BoundOptionsLike {
    const stats = this.stats();
    return stats.size ? { mode: 'train', bnStats: stats } : { mode: 'eval' };
  }

  /** Spec matrices C(y): [N, K-1, K]. */
  spec(): tf.Tensor3D {
    return this.once('spec', () => specMatrix(this.ctx.y, this.classes));
  }

  /** The training radius eps_train = trainEpsMul * eps_t of the IBP box (METHODS 5). */
  get trainEps(): number {
    return this.settings.trainEpsMul * this.ctx.eps;
  }

  /** The training attack's radius eps_att = attackEpsFactor * eps_train (METHODS 5). */
  get attackEps(): number {
    return this.settings.attackEpsFactor * this.trainEps;
  }

  /**
   * The two radii as loss parts (`box_eps`, `attack_eps`), so the batch events and metrics.csv
   * show what the step trained at. They are reported values, not terms of the total.
   */
  radiusParts(): Record<string, tf.Scalar> {
    return { box_eps: tf.scalar(this.trainEps), attack_eps: tf.scalar(this.attackEps) };
  }

  /** The certification box B(x, eps_train), clipped to [0, 1]. */
  box(): InputBox {
    return this.once('box', () => boxAround(this.ctx.x, this.trainEps));
  }

  /** Adversarial inputs at radius eps_att (detached; x itself when that radius is 0). */
  adversarial(): tf.Tensor {
    return this.once('adv', () => {
      const { net, x, y, rng, attack } = this.ctx;
      const epsAtt = this.attackEps;
      if (!(epsAtt > 0)) return x;
      const box = boxAround(x, epsAtt);
      if (attack) {
        const res = attack.run(net, x, y, box, rng);
        res.loss.dispose();
        return detach(res.x);
      }
      return randomStartPgd(net, y, box, rng, this.settings.attack);
    });
  }

  /**
   * Whether the network ends in an affine head g (the penultimate tap, then one dense layer;
   * METHODS 7). Then the adversarial logits and the IBP bound of z go through the head input,
   * one code path for every loss, so CC-Dist with beta = 0 computes exactly CC-IBP.
   */
  get hasAffineHead(): boolean {
    return this.once('hasHead', () => {
      try {
        headLayerIndex(this.ctx.net);
        return true;
      } catch {
        return false;
      }
    });
  }

  /** Index of the penultimate tap: the head input h enters this layer (METHODS 7). */
  get featureIndex(): number {
    return this.ctx.net.tapIndex('penultimate');
  }

  /** Head input h(x_adv), train mode with clean statistics: [N, d]. */
  adversarialFeatures(): tf.Tensor2D {
    return this.once('phiAdv', () => {
      const h = this.ctx.net.forward(this.adversarial(), { ...this.boundMode(), end: this.featureIndex }).output;
      return tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
    });
  }

  /** IBP bounds of the head input h over the box (bounds' ibp with end = penultimate): [N, d] each. */
  featureBox(): { lower: tf.Tensor2D; upper: tf.Tensor2D } {
    return this.once('featureBox', () => {
      const b = ibp(this.ctx.net, this.box(), { ...this.boundMode(), end: this.featureIndex });
      const n = b.lower.shape[0];
      return { lower: tf.reshape(b.lower, [n, -1]) as tf.Tensor2D, upper: tf.reshape(b.upper, [n, -1]) as tf.Tensor2D };
    });
  }

  /** Logits of the adversarial inputs, train mode with the clean statistics (through the head when there is one): [N, K]. */
  adversarialLogits(): tf.Tensor2D {
    return this.once('advLogits', () => {
      if (this.hasAffineHead) return headLogits(this.ctx.net, this.adversarialFeatures());
      const o = this.boundMode();
      return this.ctx.net.forward(this.adversarial(), { mode: o.mode, bnStats: o.bnStats }).output as tf.Tensor2D;
    });
  }

  /** z(x_adv) = C(y) f(x_adv): [N, K-1]. */
  adversarialDifferences(): tf.Tensor2D {
    return this.once('zAdv', () => applySpec(this.spec(), this.adversarialLogits()));
  }

  /**
   * IBP lower bounds of z over the box, with elision: [N, K-1]. Through the interval trace when
   * the regularisers made one, else through featureBox() and the affine head (equal to bounds'
   * ibp with spec, sharing the feature pass), else bounds' ibp with spec.
   */
  ibpLower(): tf.Tensor2D {
    return this.once('ibpLower', () => {
      if (this.cache.has('trace')) return this.traceLower();
      if (this.hasAffineHead) {
        const { lower, upper } = this.featureBox();
        const centre = tf.div(tf.add(upper, lower), 2);
        const radius = tf.div(tf.sub(upper, lower), 2);
        return headLowerBound(this.ctx.net, centre, radius, this.spec());
      }
      return ibp(this.ctx.net, this.box(), { ...this.boundMode(), spec: this.spec() }).lower as tf.Tensor2D;
    });
  }

  /**
   * CROWN-IBP lower bounds of z over the box, with elision: [N, K-1]; with the settings'
   * relaxations (the loss's `relaxations` option) when given.
   */
  crownIbpLower(): tf.Tensor2D {
    return this.once('crownIbpLower', () => {
      const relaxations = this.settings.relaxations;
      return crownIbp(this.ctx.net, this.box(), { ...this.boundMode(), spec: this.spec(), ...(relaxations ? { relaxations } : {}) }).lower as tf.Tensor2D;
    });
  }

  /**
   * The interval trace to the head input with every ReLU's pre-activation bounds (for the
   * regularisers). Once it exists, ibpLower() reuses it through the elided head instead of a
   * second interval pass.
   */
  trace(): IntervalTrace {
    return this.once('trace', () => {
      const net = this.ctx.net;
      const end = headLayerIndex(net);
      return intervalTrace(net, this.box(), end, this.boundMode().bnStats);
    });
  }

  private traceLower(): tf.Tensor2D {
    const t = this.trace();
    return headLowerBound(this.ctx.net, t.out.centre, t.out.radius, this.spec());
  }

  /** The value cached under key, made by make() on first use (for subclasses adding their own blocks). */
  protected once<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }
}
