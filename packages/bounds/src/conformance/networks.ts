import * as tf from '@tensorflow/tfjs-core';
import { BatchStatsMap, LayerSpec, Network, NetworkSpec, SeededRng } from '@certkd/core';

/** A small network of the conformance suite, with the BatchNorm mode its bounds use. */
export interface ConformanceNetwork {
  name: string;
  net: Network;
  mode: 'eval' | 'train';
  /** Batch statistics for train mode (one entry per BatchNorm layer). */
  bnStats?: BatchStatsMap;
  dispose(): void;
}

const bn = (): LayerSpec => ({ kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 });

/** Architectures that together cover every layer kind of the IR, padding modes and strides. */
export const CONFORMANCE_SPECS: readonly { name: string; spec: NetworkSpec; mode: 'eval' | 'train' }[] = [
  {
    name: 'cnn-bn-avgpool',
    mode: 'eval',
    spec: {
      inputShape: [4, 4, 2],
      layers: [
        { kind: 'normalize', mean: [0.5, 0.4], std: [0.3, 0.25] },
        { kind: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'same', useBias: true },
        bn(),
        { kind: 'relu' },
        { kind: 'avgpool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
        {
          kind: 'conv2d',
          filters: 4,
          kernelSize: [2, 2],
          strides: [1, 1],
          padding: [
            [1, 0],
            [0, 1],
          ],
          useBias: false,
        },
        { kind: 'relu' },
        { kind: 'flatten' },
        { kind: 'tap', name: 'features' },
        { kind: 'dense', units: 6, useBias: true },
        bn(),
        { kind: 'relu' },
        { kind: 'tap', name: 'penultimate' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    },
  },
  {
    name: 'cnn-strided-train-bn',
    mode: 'train',
    spec: {
      inputShape: [5, 5, 1],
      layers: [
        { kind: 'normalize', mean: [0.3], std: [0.5] },
        { kind: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [2, 2], padding: 'same', useBias: true },
        bn(),
        { kind: 'relu' },
        { kind: 'conv2d', filters: 4, kernelSize: [2, 2], strides: [1, 1], padding: 'valid', useBias: true },
        { kind: 'relu' },
        { kind: 'flatten' },
        { kind: 'dense', units: 5, useBias: true },
        bn(),
        { kind: 'relu' },
        { kind: 'dense', units: 4, useBias: true },
      ],
    },
  },
  {
    name: 'mlp-deep',
    mode: 'eval',
    spec: {
      inputShape: [4],
      layers: [
        { kind: 'normalize', mean: [0.5], std: [0.5] },
        { kind: 'dense', units: 8, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 8, useBias: true },
        bn(),
        { kind: 'relu' },
        { kind: 'dense', units: 6, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    },
  },
];

function fill(n: number, f: () => number): number[] {
  return Array.from({ length: n }, f);
}

/** Build one conformance network with random parameters (biases and BatchNorm statistics included; gamma may be negative). */
export function buildConformanceNetwork(name: string, seed: number): ConformanceNetwork {
  const entry = CONFORMANCE_SPECS.find((s) => s.name === name);
  if (!entry) throw new Error(`unknown conformance network '${name}'`);
  const rng = new SeededRng(seed);
  const net = Network.create(structuredClone(entry.spec), rng);
  const bnStats: BatchStatsMap = new Map();
  tf.tidy(() => {
    net.layers.forEach((layer, i) => {
      if ((layer.kind === 'dense' || layer.kind === 'conv2d') && layer.useBias) {
        const b = net.param(i, 'bias');
        b.assign(
          tf.tensor(
            fill(b.size, () => rng.normal() * 0.3),
            b.shape,
          ),
        );
      }
      if (layer.kind === 'batchnorm') {
        const c = net.param(i, 'gamma').size;
        net.param(i, 'gamma').assign(tf.tensor1d(fill(c, () => (rng.next() * 2 - 1) * 1.5)));
        net.param(i, 'beta').assign(tf.tensor1d(fill(c, () => rng.normal() * 0.3)));
        net.param(i, 'movingMean').assign(tf.tensor1d(fill(c, () => rng.normal() * 0.3)));
        net.param(i, 'movingVariance').assign(tf.tensor1d(fill(c, () => 0.5 + rng.next() * 1.5)));
      }
    });
  });
  if (entry.mode === 'train') {
    net.layers.forEach((layer, i) => {
      if (layer.kind !== 'batchnorm') return;
      const c = net.param(i, 'gamma').size;
      bnStats.set(i, {
        mean: tf.tensor1d(fill(c, () => rng.normal() * 0.5)),
        variance: tf.tensor1d(fill(c, () => 0.2 + rng.next() * 2)),
      });
    });
  }
  return {
    name,
    net,
    mode: entry.mode,
    bnStats: entry.mode === 'train' ? bnStats : undefined,
    dispose: () => {
      net.dispose();
      bnStats.forEach((s) => tf.dispose([s.mean, s.variance]));
    },
  };
}
