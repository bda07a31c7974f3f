import * as fs from 'fs';
import * as path from 'path';
import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { ConfigError, DataError } from '@certkd/core';
import { findFile, isFile, readMaybeGzip, requireDir } from './files';
import { concatRgb32 } from './uint8-split';

/** METHODS 9.1 / 9.2. */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.2023, 0.1994, 0.201];
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const RECORD = 1 + 3072;
const SUBDIRS = ['', 'cifar-10-batches-bin'];

/**
 * Parse one CIFAR-10 binary batch (records of 1 label byte + 3072 bytes: 1024 R, 1024 G,
 * 1024 B, rows top to bottom) into HWC uint8 pixels and labels.
 */
export function parseCifarBatch(buf: Uint8Array, file: string): { pixels: Uint8Array; labels: Int32Array } {
  if (buf.length === 0) throw new DataError('empty CIFAR-10 batch', file);
  if (buf.length % RECORD !== 0) {
    throw new DataError(
      `truncated or corrupted CIFAR-10 batch: ${buf.length} bytes is not a multiple of the ${RECORD}-byte record ` +
        `(${Math.floor(buf.length / RECORD)} whole records and ${buf.length % RECORD} bytes left over)`,
      file,
    );
  }
  const n = buf.length / RECORD;
  const pixels = new Uint8Array(n * 3072);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * RECORD;
    const label = buf[r];
    if (label > 9) throw new DataError(`record ${i} has label ${label}, outside [0, 9] (not a CIFAR-10 binary batch?)`, file);
    labels[i] = label;
    const o = i * 3072;
    for (let p = 0; p < 1024; p++) {
      pixels[o + 3 * p] = buf[r + 1 + p];
      pixels[o + 3 * p + 1] = buf[r + 1 + 1024 + p];
      pixels[o + 3 * p + 2] = buf[r + 1 + 2048 + p];
    }
  }
  return { pixels, labels };
}

/** The six batch files in `root` (or root/cifar-10-batches-bin), plain or .gz. */
export function findCifarFiles(root: string): { train: string[]; test: string } {
  requireDir(root, 'CIFAR-10');
  const train = [1, 2, 3, 4, 5].map((i) => findFile(root, [`data_batch_${i}.bin`], SUBDIRS));
  return { train, test: findFile(root, ['test_batch.bin'], SUBDIRS) };
}

function classNames(root: string): string[] {
  for (const sub of SUBDIRS) {
    const meta = path.join(root, sub, 'batches.meta.txt');
    if (isFile(meta)) {
      const names = fs
        .readFileSync(meta, 'utf8')
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
      if (names.length === 10) return names;
    }
  }
  return CIFAR10_CLASSES.slice();
}

/** CIFAR-10 from its binary batches (data_batch_1..5.bin, test_batch.bin). */
export function loadCifar10(root: string): LoadedDataset {
  const files = findCifarFiles(root);
  const train = concatRgb32(
    files.train.map((f) => parseCifarBatch(readMaybeGzip(f), f)),
    `${root} (train)`,
  );
  const test = concatRgb32([parseCifarBatch(readMaybeGzip(files.test), files.test)], files.test);
  return {
    name: 'cifar10',
    input: { shape: [32, 32, 3], classes: 10, mean: CIFAR10_MEAN.slice(), std: CIFAR10_STD.slice() },
    train,
    test,
    classNames: classNames(root),
    augmentation: { cropPadding: 2, flip: true },
  };
}

export class Cifar10Source implements DatasetSource {
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    if (!opts.root) throw new ConfigError('CIFAR-10 needs the folder holding data_batch_1..5.bin and test_batch.bin', undefined, 'dataset.root');
    return loadCifar10(opts.root);
  }
}
