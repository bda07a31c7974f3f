import * as tf from '@tensorflow/tfjs-core';
import { batchMean, BatchStatsMap, InputBox, Network, UnsupportedLayerError, convPad } from '@certkd/core';

/** Centre and radius of one activation's interval, [N, ...shape]. */
export interface CentreRadius {
  centre: tf.Tensor;
  radius: tf.Tensor;
}

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
  let m: tf.Tensor = tf.div(tf.add(box.upper, box.lower), 2);
  let r: tf.Tensor = tf.div(tf.sub(box.upper, box.lower), 2);
  const pre: CentreRadius[] = [];
  let inputRadiusMean: tf.Scalar | undefined;
  for (let i = 0; i < end; i++) {
    const layer = net.layers[i];
    if (!inputRadiusMean && (layer.kind === 'conv2d' || layer.kind === 'dense')) inputRadiusMean = batchMean(r);
    switch (layer.kind) {
      case 'normalize': {
        const c = layer.mean.length;
        const shape = m.rank === 4 ? [1, 1, 1, c] : [1, c];
        const std = tf.tensor(layer.std, shape);
        m = tf.div(tf.sub(m, tf.tensor(layer.mean, shape)), std);
        r = tf.div(r, tf.abs(std));
        break;
      }
      case 'conv2d': {
        const k = net.param(i, 'kernel') as tf.Tensor4D;
        const pad = convPad(layer, net.shapes[i]);
        m = tf.conv2d(m as tf.Tensor4D, k, layer.strides, pad);
        if (layer.useBias) m = tf.add(m, net.param(i, 'bias'));
        r = tf.conv2d(r as tf.Tensor4D, tf.abs(k), layer.strides, pad);
        break;
      }
      case 'dense': {
        const k = net.param(i, 'kernel') as tf.Tensor2D;
        m = tf.matMul(m as tf.Tensor2D, k);
        if (layer.useBias) m = tf.add(m, net.param(i, 'bias'));
        r = tf.matMul(r as tf.Tensor2D, tf.abs(k));
        break;
      }
      case 'batchnorm': {
        const { scale, shift } = net.bnAffine(i, bnStats?.get(i));
        m = tf.add(tf.mul(m, scale), shift);
        r = tf.mul(r, tf.abs(scale));
        break;
      }
      case 'relu': {
        pre.push({ centre: m, radius: r });
        const l = tf.relu(tf.sub(m, r));
        const u = tf.relu(tf.add(m, r));
        m = tf.div(tf.add(u, l), 2);
        r = tf.div(tf.sub(u, l), 2);
        break;
      }
      case 'flatten':
        m = tf.reshape(m, [m.shape[0], -1]);
        r = tf.reshape(r, [r.shape[0], -1]);
        break;
      case 'avgpool':
        m = tf.avgPool(m as tf.Tensor4D, layer.poolSize, layer.strides, 'valid');
        r = tf.avgPool(r as tf.Tensor4D, layer.poolSize, layer.strides, 'valid');
        break;
      case 'tap':
        break;
      default:
        throw new UnsupportedLayerError((layer as { kind: string }).kind, `the certified losses' interval trace (layer ${i})`);
    }
  }
  return { out: { centre: m, radius: r }, preActivations: pre, inputRadiusMean: inputRadiusMean ?? batchMean(r) };
}
