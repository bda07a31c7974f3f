import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type FeatureTeacher, type Network } from '@certkd/core';
import { boxAround } from './box';
import { ibp } from './methods/ibp';

/** How loose a model's interval bounds are around inputs, and how close its features are to a teacher's. */
export interface BoundDiagnostics {
  /** Points measured and the L-inf radius of their boxes (pixel space). */
  n: number;
  eps: number;
  /** Mean over points and features of u - l, the IBP box of the penultimate features (the box CC-Dist combines with phi(x_adv)). */
  feature_box_width: number;
  /** Mean per point of ReLUs whose IBP pre-activation interval contains zero (l < 0 < u). */
  unstable_relus: number;
  /** unstable_relus over the number of ReLU units. */
  unstable_fraction: number;
  relu_units: number;
  /** Per ReLU layer (its index in the network): mean unstable units per point, and its width. */
  per_layer: { layer: number; unstable: number; units: number }[];
  /** Mean over points of the squared L2 distance between the student's and the teacher's clean penultimate features (eval mode). */
  teacher_distance?: number;
  /** teacher_distance over the mean squared norm of the teacher's features. */
  teacher_distance_rel?: number;
}

/**
 * Bound diagnostics of `net` on the points x ([N, ...input]) with L-inf radius eps, IBP in eval
 * mode: the width of the penultimate feature box, the unstable ReLUs of each layer, and, with a
 * teacher of the same feature width (its features at its tap), the clean feature distance. Chunked by `batch` points;
 * leaves no tensor behind.
 */
export function boundDiagnostics(
  net: Network,
  x: tf.Tensor,
  eps: number,
  opts: { teacher?: Pick<FeatureTeacher, 'features' | 'featureWidth'>; batch?: number } = {},
): BoundDiagnostics {
  const n = x.shape[0];
  if (n < 1) throw new ConfigError('no points to measure', undefined, 'n');
  const tap = net.tapIndex('penultimate');
  const d = net.widthAt(tap);
  if (opts.teacher && opts.teacher.featureWidth !== d)
    throw new ConfigError(`the student has ${d} features and the teacher ${opts.teacher.featureWidth}; the distance needs equal widths`, undefined, 'teacher');
  const reluLayers = net.spec.layers.flatMap((l, i) => (l.kind === 'relu' ? [i] : []));
  const unstable = reluLayers.map(() => 0);
  let width = 0;
  let dist = 0;
  let energy = 0;
  const batch = opts.batch ?? 100;
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    tf.tidy(() => {
      const xb = tf.slice(x, s, m);
      const box = boxAround(xb, eps);
      const feat = ibp(net, box, { end: tap });
      width += tf.sum(tf.sub(feat.upper, feat.lower)).dataSync()[0];
      reluLayers.forEach((layer, k) => {
        const pre = ibp(net, box, { end: layer });
        unstable[k] += tf.sum(tf.cast(tf.logicalAnd(tf.less(pre.lower, 0), tf.greater(pre.upper, 0)), 'float32')).dataSync()[0];
      });
      if (opts.teacher) {
        const fs = tf.reshape(net.forward(xb, { mode: 'eval', end: tap }).output, [m, d]);
        const ft = opts.teacher.features(xb);
        dist += tf.sum(tf.square(tf.sub(fs, ft))).dataSync()[0];
        energy += tf.sum(tf.square(ft)).dataSync()[0];
      }
    });
  }
  const per_layer = reluLayers.map((layer, k) => ({ layer, unstable: unstable[k] / n, units: net.widthAt(layer) }));
  const relu_units = per_layer.reduce((a, l) => a + l.units, 0);
  const unstable_relus = per_layer.reduce((a, l) => a + l.unstable, 0);
  return {
    n,
    eps,
    feature_box_width: width / (n * d),
    unstable_relus,
    unstable_fraction: relu_units ? unstable_relus / relu_units : 0,
    relu_units,
    per_layer,
    ...(opts.teacher ? { teacher_distance: dist / n, teacher_distance_rel: energy > 0 ? dist / energy : 0 } : {}),
  };
}
