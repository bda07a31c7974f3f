import * as tf from '@tensorflow/tfjs-core';
import { BatchStatsMap, ConfigError, FeatureTeacher, LossContext } from '@certkd/core';
import { ibp } from '@certkd/bounds';
import { CertifiedBatch, CertifiedBatchSettings, detach, headLayerIndex, headLogits, headLowerBound } from '@certkd/certified-losses';

/** How a batch finds its adversarial inputs. */
export interface LossBatchSettings {
  /** Training radius eps_train = trainEpsMul * eps_t: the IBP box and the attack (METHODS 5). */
  trainEpsMul: number;
  /** Attack radius eps_att = attackEpsFactor * eps_train. */
  attackEpsFactor: number;
  /** The built-in attack (random-start PGD; 1 step of size 10 = FGSM onto a vertex), used when ctx.attack is absent. */
  attackSteps: number;
  attackStepSize: number;
}

export const DEFAULT_BATCH_SETTINGS: LossBatchSettings = { trainEpsMul: 1, attackEpsFactor: 1, attackSteps: 1, attackStepSize: 10 };

/** A feature box [lower, upper] of the head input, [N, d]. */
export interface FeatureBox {
  lower: tf.Tensor2D;
  upper: tf.Tensor2D;
}

/**
 * One batch's building blocks for a training loss, each computed once on first use: the
 * certified losses' CertifiedBatch (clean statistics, spec, box, adversarial inputs) plus the
 * feature and teacher blocks of the distillation losses. The batch-norm policy is METHODS 9.3
 * (and the reference's ccibp_loss): a train-mode clean pass collects the batch statistics
 * (detached); attacks run in eval mode; the adversarial and bound passes reuse the clean
 * statistics. All tensors belong to the caller's scope (the training step's tf.variableGrads).
 */
export class LossBatch extends CertifiedBatch {
  /** The flat settings as given, plus the attack options CertifiedBatch reads from them. */
  declare readonly settings: LossBatchSettings & CertifiedBatchSettings;

  constructor(ctx: LossContext, settings: LossBatchSettings = DEFAULT_BATCH_SETTINGS) {
    super(ctx, { ...settings, attack: { steps: settings.attackSteps, stepSize: settings.attackStepSize } });
  }

  /** Index of the penultimate tap: features h enter this layer (METHODS 7). */
  get featureIndex(): number {
    return this.ctx.net.tapIndex('penultimate');
  }

  /** BatchNorm options for forward and bound passes: train mode with the clean statistics (= boundMode()). */
  mode(): { mode: 'train' | 'eval'; bnStats?: BatchStatsMap } {
    return this.boundMode();
  }

  /** Student features h(x_adv), train mode with clean statistics: [N, d]. */
  adversarialFeatures(): tf.Tensor2D {
    return this.once('phiAdv', () => {
      const h = this.ctx.net.forward(this.adversarial(), { ...this.mode(), end: this.featureIndex }).output;
      return tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
    });
  }

  /** Student logits at x_adv through the affine head, sharing the feature pass: [N, K]. */
  override adversarialLogits(): tf.Tensor2D {
    return this.once('advLogits', () => headLogits(this.ctx.net, this.adversarialFeatures()));
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
  override ibpLower(): tf.Tensor2D {
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
}
