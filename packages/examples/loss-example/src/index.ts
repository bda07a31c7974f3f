import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { batchMean, ConfigError, pluginRegistry, type DependencyContainer } from '@certkd/core';
import { baseLossOptions, defineLoss, lossOverLowerBounds } from '@certkd/distill-losses';

/**
 * 'adv-feature-mse': CC-IBP(alpha) plus beta times the mean squared distance between the
 * student's features at the adversarial input and the teacher's clean features, i.e. the
 * average-case counterpart of CC-Dist's worst-case term. Parts: cc-ibp, feature-mse, l1.
 */
export const advFeatureMseLoss = defineLoss({
  name: 'adv-feature-mse',
  description: 'CC-IBP plus beta * mean ||h(x_adv) - t(x)||^2 (example custom loss)',
  options: z.strictObject({
    ...baseLossOptions,
    alpha: z.number().min(0).max(1).default(0.5),
    beta: z.number().min(0).default(0.01),
  }),
  compute: (batch, o) => {
    const zMix = tf.add(tf.mul(batch.ibpLower(), o.alpha), tf.mul(batch.adversarialDifferences(), 1 - o.alpha)) as tf.Tensor2D;
    const t = batch.teacherFeatures('adv-feature-mse');
    const phi = batch.adversarialFeatures();
    if (phi.shape[1] !== t.shape[1]) {
      throw new ConfigError(
        `needs equal feature widths (student ${phi.shape[1]}, teacher ${t.shape[1]}); use cc-dist, which learns an adapter`,
        undefined,
        'adv-feature-mse',
      );
    }
    const mse = batchMean(tf.sum(tf.square(tf.sub(phi, t)), 1));
    return { parts: { 'cc-ibp': lossOverLowerBounds(zMix), 'feature-mse': tf.mul(mse, o.beta) as tf.Scalar } };
  },
});

/** The package's composition root, named in a recipe's `plugins:` list. */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(advFeatureMseLoss, '@certkd/example-loss');
}
