import * as tf from '@tensorflow/tfjs-core';
import { BatchStatsMap, ConfigError, FeatureTeacher, LossContext } from '@certkd/core';
import type { RelaxationSet } from '@certkd/bounds';
import { CertifiedBatch, CertifiedBatchSettings, detach } from '@certkd/certified-losses';

/** How a batch finds its adversarial inputs. */
export interface LossBatchSettings {
  /** Training radius eps_train = trainEpsMul * eps_t: the IBP box and the attack (METHODS 5). */
  trainEpsMul: number;
  /** Attack radius eps_att = attackEpsFactor * eps_train. */
  attackEpsFactor: number;
  /** The built-in attack (random-start PGD; 1 step of size 10 = FGSM onto a vertex), used when ctx.attack is absent. */
  attackSteps: number;
  attackStepSize: number;
  /** Relaxations of the CROWN-style bounds (crownIbpLower); default: the built-in set. */
  relaxations?: RelaxationSet;
}

export const DEFAULT_BATCH_SETTINGS: LossBatchSettings = { trainEpsMul: 1, attackEpsFactor: 1, attackSteps: 1, attackStepSize: 10 };

/** A feature box [lower, upper] of the head input, [N, d]. */
export interface FeatureBox {
  lower: tf.Tensor2D;
  upper: tf.Tensor2D;
}

/**
 * One batch's building blocks for a training loss, each computed once on first use: the
 * certified losses' CertifiedBatch (clean statistics, spec, box, adversarial inputs, the head
 * input h at x_adv and its IBP box) plus the teacher blocks of the distillation losses. The batch-norm policy is METHODS 9.3
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

  /** BatchNorm options for forward and bound passes: train mode with the clean statistics (= boundMode()). */
  mode(): { mode: 'train' | 'eval'; bnStats?: BatchStatsMap } {
    return this.boundMode();
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
