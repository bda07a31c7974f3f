import * as tf from '@tensorflow/tfjs-core';
import { BatchStatsMap, ConfigError, FeatureTeacher, InputBox, LossContext } from '@certkd/core';
import { boxAround, ibp, specMatrix } from '@certkd/bounds';
import { detach, detachStats } from './internal/detach';
import { randomStartPgd } from './internal/training-attack';
import { headLayerIndex, headLogits, headLowerBound } from './internal/head-bounds';
import { applySpec } from './internal/apply-spec';

/** How a batch finds its adversarial inputs. */
export interface LossBatchSettings {
  /** Attack radius eps_att = trainEpsFactor * eps. */
  trainEpsFactor: number;
  /** The built-in attack (random-start PGD; 1 step of size 10 = FGSM onto a vertex), used when ctx.attack is absent. */
  attackSteps: number;
  attackStepSize: number;
}

export const DEFAULT_BATCH_SETTINGS: LossBatchSettings = { trainEpsFactor: 1, attackSteps: 1, attackStepSize: 10 };

/** A feature box [lower, upper] of the head input, [N, d]. */
export interface FeatureBox {
  lower: tf.Tensor2D;
  upper: tf.Tensor2D;
}

/**
 * One batch's building blocks for a training loss, each computed once on first use. The
 * batch-norm policy is METHODS 9.3 (and the reference's ccibp_loss): a train-mode clean pass
 * collects the batch statistics (detached); attacks run in eval mode; the adversarial and
 * bound passes reuse the clean statistics. All tensors belong to the caller's scope (the
 * training step's tf.variableGrads).
 */
export class LossBatch {
  private cache = new Map<string, unknown>();

  constructor(
    readonly ctx: LossContext,
    readonly settings: LossBatchSettings = DEFAULT_BATCH_SETTINGS,
  ) {}

  /** Number of classes K. */
  get classes(): number {
    const s = this.ctx.net.outputShape;
    return s[s.length - 1];
  }

  /** Index of the penultimate tap: features h enter this layer (METHODS 7). */
  get featureIndex(): number {
    return this.ctx.net.tapIndex('penultimate');
  }

  /** Detached BatchNorm statistics of the clean batch (empty map without BatchNorm). */
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
      return { stats: detachStats(bnStats), logits: output as tf.Tensor2D };
    });
  }


  /** BatchNorm options for forward and bound passes: train mode with the clean statistics. */
  mode(): { mode: 'train' | 'eval'; bnStats?: BatchStatsMap } {
    const s = this.stats();
    return s.size ? { mode: 'train', bnStats: s } : { mode: 'eval' };
  }

  /** Spec matrices C(y) [N, K-1, K]. */
  spec(): tf.Tensor3D {
    return this.once('spec', () => specMatrix(this.ctx.y, this.classes));
  }

  /** B(x, eps) clipped to [0, 1]. */
  box(): InputBox {
    return this.once('box', () => boxAround(this.ctx.x, this.ctx.eps));
  }

  /** Adversarial inputs at radius trainEpsFactor * eps, detached (x itself at radius 0). */
  adversarial(): tf.Tensor {
    return this.once('adv', () => {
      const { net, x, y, rng, attack } = this.ctx;
      const r = this.settings.trainEpsFactor * this.ctx.eps;
      if (!(r > 0)) return x;
      const box = boxAround(x, r);
      if (attack) {
        const res = attack.run(net, x, y, box, rng);
        res.loss.dispose();
        return detach(res.x);
      }
      return detach(randomStartPgd(net, y, box, rng, { steps: this.settings.attackSteps, stepSize: this.settings.attackStepSize }));
    });
  }

  /** Student features h(x_adv), train mode with clean statistics: [N, d]. */
  adversarialFeatures(): tf.Tensor2D {
    return this.once('phiAdv', () => {
      const h = this.ctx.net.forward(this.adversarial(), { ...this.mode(), end: this.featureIndex }).output;
      return tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
    });
  }

  /** Student logits at x_adv through the affine head: [N, K]. */
  adversarialLogits(): tf.Tensor2D {
    return this.once('advLogits', () => headLogits(this.ctx.net, this.adversarialFeatures()));
  }

  /** z(x_adv) = C(y) f(x_adv): [N, K-1]. */
  adversarialDifferences(): tf.Tensor2D {
    return this.once('zAdv', () => applySpec(this.spec(), this.adversarialLogits()));
  }

  /** IBP bounds of the features h over the box (bounds' ibp with end = penultimate): [N, d] each. */
  featureBox(): FeatureBox {
    return this.once('featureBox', () => {
      const b = ibp(this.ctx.net, this.box(), { ...this.mode(), end: this.featureIndex });
      const n = b.lower.shape[0];
      return { lower: tf.reshape(b.lower, [n, -1]) as tf.Tensor2D, upper: tf.reshape(b.upper, [n, -1]) as tf.Tensor2D };
    });
  }

  /**
   * IBP lower bound of z computed from featureBox() through the affine head with elision
   * (equal to bounds' ibp with spec, and shares the feature pass): [N, K-1].
   */
  ibpLower(): tf.Tensor2D {
    return this.once('zl', () => {
      headLayerIndex(this.ctx.net); // the head must be one dense layer
      const { lower, upper } = this.featureBox();
      const centre = tf.div(tf.add(upper, lower), 2);
      const radius = tf.div(tf.sub(upper, lower), 2);
      return headLowerBound(this.ctx.net, centre, radius, this.spec());
    });
  }

  /** The frozen teacher, or a ConfigError naming the loss that needs it. */
  teacher(who: string): FeatureTeacher {
    if (!this.ctx.teacher) {
      throw new ConfigError(`${who} needs a teacher: add a train-teacher or load-teacher stage before train-student`, undefined, 'loss');
    }
    return this.ctx.teacher;
  }

  /** Teacher features t = h_T(x) on the clean input, detached: [N, d_T]. */
  teacherFeatures(who = 'this loss'): tf.Tensor2D {
    return this.once('t', () => detach(this.teacher(who).features(this.ctx.x)));
  }

  /** Teacher logits on the clean input, detached: [N, K]. */
  teacherLogits(who = 'this loss'): tf.Tensor2D {
    return this.once('tLogits', () => detach(this.teacher(who).logits(this.ctx.x)));
  }

  private once<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }
}
