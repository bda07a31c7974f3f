// Mirrors @certkd/certified-losses: plugin packages do not import each other (ARCHITECTURE), so
// the few building blocks both need are kept in each.

import * as tf from '@tensorflow/tfjs-core';
import type { BatchStatsMap } from '@certkd/core';

/**
 * A copy of `t` that no gradient flows through (tfjs has no stopGradient). The copy is made
 * inside a custom-gradient kernel with no tensor inputs, so the tape records nothing that
 * links it to the network's variables and backpropagation never visits what produced `t`.
 */
export function detach<T extends tf.Tensor>(t: T): T {
  return tf.customGrad(() => ({ value: tf.clone(t), gradFunc: () => [] }))() as T;
}

/** Detached copies of BatchNorm statistics (the reference detaches the saved batch stats). */
export function detachStats(stats: BatchStatsMap): BatchStatsMap {
  const out: BatchStatsMap = new Map();
  for (const [i, s] of stats) out.set(i, { mean: detach(s.mean), variance: detach(s.variance) });
  return out;
}
