import * as tf from '@tensorflow/tfjs-core';
import { batchMean, batchSum, detach, type Network } from '@certkd/core';
import type { IntervalTrace } from './interval-trace';

export interface ShiRegulariserOptions {
  /** Tolerance tau (0.5 in Shi et al. 2021). */
  tau: number;
}

export interface ShiRegularisers {
  tightness: tf.Scalar;
  balance: tf.Scalar;
}

// Guards a division the way the original clamps it: the ratio of two non-negative numbers,
// never NaN or infinite.
const FLOOR = 1e-12;

/**
 * Shi et al. 2021 regularisers (METHODS 6) from the pre-activation intervals of every ReLU:
 * tightness = mean_i relu(tau - T0 / T_i) / tau with T0 the mean input radius (after
 * normalisation) and T_i the mean pre-activation radius; balance = mean_i of
 * (relu(tau - rho_m) + relu(tau - rho_v)) / tau, rho = min(ratio, 1 / ratio) of the active
 * (l > 0) vs inactive (u < 0) means and variances of the pre-activation centres. Where a ratio
 * is 0/0 (no active and no inactive neuron) rho is 0, so the term is a constant without
 * gradient; the original skips such terms, which has the same gradient.
 */
export function shiRegularisers(trace: IntervalTrace, opts: ShiRegulariserOptions): ShiRegularisers {
  const { tau } = opts;
  return tf.tidy(() => {
    const layers = trace.preActivations;
    if (layers.length === 0) return { tightness: tf.scalar(0), balance: tf.scalar(0) };
    const t0 = trace.inputRadiusMean;
    const tight: tf.Scalar[] = [];
    const bal: tf.Scalar[] = [];
    for (const { centre, radius } of layers) {
      const ti = tf.maximum(batchMean(radius), FLOOR);
      tight.push(tf.div(tf.relu(tf.sub(tau, tf.div(t0, ti))), tau) as tf.Scalar);

      const lower = tf.sub(centre, radius);
      const upper = tf.add(centre, radius);
      // The masks are constants for the gradient (comparisons have none).
      const act = detach(tf.cast(tf.greater(lower, 0), 'float32'));
      const inact = detach(tf.cast(tf.less(upper, 0), 'float32'));
      const meanAct = batchMean(tf.mul(centre, act));
      const meanInact = tf.neg(batchMean(tf.mul(centre, inact))); // >= 0: centres of inactive neurons are < 0
      const delta = tf.square(tf.sub(centre, batchMean(centre)));
      const varAct = batchSum(tf.mul(delta, act));
      const varInact = batchSum(tf.mul(delta, inact));
      const rhoM = symmetricRatio(meanAct, meanInact);
      const rhoV = symmetricRatio(varAct, varInact);
      bal.push(tf.div(tf.add(tf.relu(tf.sub(tau, rhoM)), tf.relu(tf.sub(tau, rhoV))), tau) as tf.Scalar);
    }
    return { tightness: tf.mean(tf.stack(tight)) as tf.Scalar, balance: tf.mean(tf.stack(bal)) as tf.Scalar };
  });
}

function symmetricRatio(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.minimum(tf.div(a, tf.maximum(b, FLOOR)), tf.div(b, tf.maximum(a, FLOOR)));
}

/** Sum of |w| over all conv and dense kernels (METHODS 5), unscaled. Scalar. */
export function l1Penalty(net: Network): tf.Scalar {
  return tf.tidy(() => {
    const ks = net.kernels();
    return ks.length ? (tf.addN(ks.map((k) => tf.sum(tf.abs(k)))) as tf.Scalar) : tf.scalar(0);
  });
}

/** Weight of the regularisers at the current eps: lambda (1 - eps / epsMax), 0 once eps >= epsMax. */
export function regulariserWeight(lambda: number, eps: number, epsMax: number): number {
  if (!(epsMax > 0)) return 0;
  return Math.max(0, lambda * (1 - eps / epsMax));
}
