import * as tf from '@tensorflow/tfjs-core';
import type { BatchStatsMap } from '../network/network';

/**
 * A copy of `t` that no gradient flows through (tfjs has no stopGradient). The copy is made
 * inside a custom-gradient kernel with no tensor inputs: a tape records nothing that links it
 * to what produced `t`, so an outer backward pass (a training step's tf.variableGrads) never
 * walks through an attack or a teacher. The copy shares `t`'s data (no read-back to the host,
 * so it works on asynchronous backends too).
 */
export function detach<T extends tf.Tensor>(t: T): T {
  return tf.customGrad(() => ({ value: tf.clone(t), gradFunc: () => [] }))() as T;
}

/** Detached copies of BatchNorm statistics. */
export function detachStats(stats: BatchStatsMap): BatchStatsMap {
  const out: BatchStatsMap = new Map();
  for (const [i, s] of stats) out.set(i, { mean: detach(s.mean), variance: detach(s.variance) });
  return out;
}
