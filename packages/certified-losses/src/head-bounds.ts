import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network } from '@certkd/core';
import { applySpec } from './logit-differences';

/**
 * Index of the dense layer that forms the affine head g (METHODS 7): the layers from the
 * penultimate tap to the output must be taps and exactly one dense layer.
 */
export function headLayerIndex(net: Network): number {
  const p = net.tapIndex('penultimate');
  const rest = net.layers
    .slice(p)
    .map((l, k) => ({ l, i: p + k }))
    .filter(({ l }) => l.kind !== 'tap');
  if (rest.length !== 1 || rest[0].l.kind !== 'dense') {
    throw new ConfigError(
      `the layers after the penultimate tap (index ${p}) must be a single dense layer, found ${rest.map(({ l }) => l.kind).join(', ') || 'none'}`,
      undefined,
      'network.layers',
    );
  }
  return rest[0].i;
}

/**
 * IBP lower bound of z = C g(h) over the feature box [centre - radius, centre + radius] of the
 * head input h ([N, d]), with final-layer elision: rows C W^T carry the head in one affine map.
 * spec: [N, M, K]. Returns [N, M].
 */
export function headLowerBound(net: Network, centre: tf.Tensor, radius: tf.Tensor, spec: tf.Tensor3D): tf.Tensor2D {
  const hi = headLayerIndex(net);
  return tf.tidy(() => {
    const [n, mRows, k] = spec.shape;
    const kernel = net.param(hi, 'kernel') as tf.Tensor2D; // [d, K]
    const d = kernel.shape[0];
    // Wc[n, m, :] = sum_k C[n, m, k] W[:, k]  -> [N, M, d]
    const wc = tf.reshape(tf.matMul(tf.reshape(spec, [n * mRows, k]), kernel, false, true), [n, mRows, d]);
    const c = tf.expandDims(tf.reshape(centre, [n, d]), 1);
    const r = tf.expandDims(tf.reshape(radius, [n, d]), 1);
    let lower = tf.sub(tf.sum(tf.mul(wc, c), 2), tf.sum(tf.mul(tf.abs(wc), r), 2));
    if (net.hasParam(hi, 'bias')) lower = tf.add(lower, applySpec(spec, tf.tile(tf.expandDims(net.param(hi, 'bias'), 0), [n, 1]) as tf.Tensor2D));
    return lower as tf.Tensor2D;
  });
}

/** Logits g(h) of the affine head for features h [N, d]: [N, K]. */
export function headLogits(net: Network, features: tf.Tensor): tf.Tensor2D {
  const hi = headLayerIndex(net);
  return tf.tidy(() => {
    const h = tf.reshape(features, [features.shape[0], -1]) as tf.Tensor2D;
    const y = tf.matMul(h, net.param(hi, 'kernel') as tf.Tensor2D);
    return (net.hasParam(hi, 'bias') ? tf.add(y, net.param(hi, 'bias')) : y) as tf.Tensor2D;
  });
}
