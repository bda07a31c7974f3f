import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { batchMean, definePlugin, TrainingLoss } from '@certkd/core';
import { BatchLoss, BatchLossResult, baseLossOptions } from './batch-loss';
import { LossBatch } from './loss-batch';
import { lossOverLowerBounds } from '@certkd/certified-losses';

export const adCertOptions = z.strictObject({ ...baseLossOptions, alpha: z.number().min(0).max(1).default(0.5) });
export type AdCertOptions = z.output<typeof adCertOptions>;

/** KL(p_T || p_S) of teacher and student logits [N, K], mean over the batch. Scalar. */
export function klDivergence(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logPt = tf.logSoftmax(teacherLogits);
    return batchMean(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, tf.logSoftmax(studentLogits))), 1));
  });
}

/**
 * AD-CERT logit distillation (METHODS 7, last line): alpha L_IBP + (1 - alpha)
 * KL(p_T(x) || p_S(x_adv)). Parts: ibp (alpha L_IBP), kd ((1 - alpha) KL), l1.
 */
export class AdCertLoss extends BatchLoss<AdCertOptions> {
  readonly name = 'ad-cert';

  protected computeBatch(batch: LossBatch): BatchLossResult {
    const a = this.options.alpha;
    const lIbp = lossOverLowerBounds(batch.ibpLower());
    const kl = klDivergence(batch.teacherLogits(this.name), batch.adversarialLogits());
    return { parts: { ibp: tf.mul(lIbp, a) as tf.Scalar, kd: tf.mul(kl, 1 - a) as tf.Scalar } };
  }
}

export const adCertPlugin = definePlugin({
  kind: 'distill-loss',
  name: 'ad-cert',
  description: 'AD-CERT: alpha L_IBP + (1 - alpha) KL(teacher(x) || student(x_adv))',
  options: adCertOptions,
  create: (o): TrainingLoss => new AdCertLoss(o),
});
