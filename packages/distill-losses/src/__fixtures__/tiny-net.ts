import * as tf from '@tensorflow/tfjs-core';
import { FeatureTeacher, Network } from '@certkd/core';
import { B1, W1, relu } from '../../../certified-losses/src/__fixtures__/tiny-net';

// The tiny network, contexts, fixed attack and plain-number references are certified-losses'
// fixture; this file adds what the distillation tests need (features and teachers).
export * from '../../../certified-losses/src/__fixtures__/tiny-net';

/** Student features h(x) = relu(x W1 + b1) of the BatchNorm-free fixture. */
export function featuresRef(x: number[]): number[] {
  return relu(B1.map((b, j) => b + x[0] * W1[0][j] + x[1] * W1[1][j]));
}

/** A fake frozen teacher with fixed features and logits (rows follow X). */
export function fixedTeacher(
  features: number[][],
  logits: number[][] = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ],
): FeatureTeacher {
  return {
    name: 'fixed',
    featureWidth: features[0].length,
    features: () => tf.tensor2d(features),
    logits: () => tf.tensor2d(logits),
    dispose: () => undefined,
  };
}

/** A teacher backed by a real network (its variables must receive no gradient). */
export function networkTeacher(net: Network): FeatureTeacher {
  return {
    name: 'net',
    featureWidth: net.widthAt(net.tapIndex('penultimate')),
    features: (x) => net.forward(x, { mode: 'eval', end: net.tapIndex('penultimate') }).output as tf.Tensor2D,
    logits: (x) => net.predict(x),
    dispose: () => net.dispose(),
  };
}
