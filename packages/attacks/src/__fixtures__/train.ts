import * as tf from '@tensorflow/tfjs-core';
import { Adam, crossEntropyPerSample, Network, SeededRng, type NetworkSpec } from '@certkd/core';

/** Two Gaussian classes in [0,1]^d: feature means 0.5 -/+ shift, noise sd 0.1. */
export function blobs(n: number, d: number, shift: number, rng: SeededRng): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const xs = new Float32Array(n * d);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    ys[i] = i % 2;
    for (let j = 0; j < d; j++) xs[i * d + j] = Math.min(1, Math.max(0, 0.5 + (ys[i] ? shift : -shift) + 0.1 * rng.normal()));
  }
  return { x: tf.tensor2d(xs, [n, d]), y: tf.tensor1d(ys, 'int32') };
}

export function mlpSpec(d: number, hidden: number, classes: number): NetworkSpec {
  return {
    inputShape: [d],
    layers: [{ kind: 'dense', units: hidden, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: classes, useBias: true }],
  };
}

/** Plain (non-robust) cross-entropy training with Adam, full batch. */
export function trainStandard(net: Network, x: tf.Tensor, y: tf.Tensor1D, steps: number, lr = 0.01): void {
  const vars = net.trainableVariables();
  const opt = new Adam(vars);
  for (let s = 0; s < steps; s++) {
    const { grads, value } = tf.variableGrads(
      () => tf.mean(crossEntropyPerSample(net.forward(x, { mode: 'train' }).output as tf.Tensor2D, y)) as tf.Scalar,
      vars,
    );
    opt.apply(
      vars.map((v) => grads[v.name]),
      lr,
    );
    value.dispose();
    tf.dispose(grads);
  }
  opt.dispose();
}

export function accuracy(net: Network, x: tf.Tensor, y: tf.Tensor1D): number {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(net.predict(x), 1), tf.cast(y, 'int32')), 'float32')).dataSync()[0]);
}
