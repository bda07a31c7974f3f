import * as tf from '@tensorflow/tfjs-core';
import { batchMean, BatchStatsMap, InputBox, Network, layerKindModule, type CentreRadius } from '@certkd/core';

/** Centre and radius of one activation's interval, [N, ...shape] (core's type). */
export type { CentreRadius };

export interface IntervalTrace {
  /** Interval of the activation entering layer `end`. */
  out: CentreRadius;
  /** Interval of every ReLU's input, in layer order. */
  preActivations: CentreRadius[];
  /** Mean input radius after normalisation (T0 of Shi et al.'s tightness term), scalar. */
  inputRadiusMean: tf.Scalar;
}

/**
 * Interval propagation (METHODS 2) from the input box to the activation entering layer `end`,
 * keeping every ReLU's pre-activation interval. The Shi et al. regularisers need those, and
 * one pass here is cheaper than calling bounds' ibp once per ReLU; the head (the last dense
 * layer) is then bounded with elision by `headLowerBound`. Train mode uses `bnStats`.
 */
export function intervalTrace(net: Network, box: InputBox, end: number, bnStats?: BatchStatsMap): IntervalTrace {
  let cur: CentreRadius = { centre: tf.div(tf.add(box.upper, box.lower), 2), radius: tf.div(tf.sub(box.upper, box.lower), 2) };
  const pre: CentreRadius[] = [];
  let inputRadiusMean: tf.Scalar | undefined;
  for (let i = 0; i < end; i++) {
    const layer = net.layers[i];
    const kind = layerKindModule(layer.kind);
    if (!inputRadiusMean && kind.hasKernel) inputRadiusMean = batchMean(cur.radius);
    if (layer.kind === 'relu') pre.push(cur);
    cur = kind.interval(layer, cur, net.layerContext(i, bnStats));
  }
  return { out: cur, preActivations: pre, inputRadiusMean: inputRadiusMean ?? batchMean(cur.radius) };
}
