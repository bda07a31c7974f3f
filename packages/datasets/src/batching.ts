import * as tf from '@tensorflow/tfjs-core';
import type { Augmentation, DataSplit } from '@certkd/core';
import { ConfigError, SeededRng } from '@certkd/core';
import { augmentImages, isActive } from './augment';

export interface BatchOptions {
  batchSize: number;
  /** Shuffle with rng.permutation(size) when given; otherwise examples come in order. */
  rng?: SeededRng;
  /** Drop a last batch smaller than batchSize. */
  dropLast?: boolean;
  /** Random crop / flip applied to each batch before it becomes a tensor. */
  augment?: Augmentation;
  /** Generator for the augmentation (required when `augment` does anything). */
  rngAug?: SeededRng;
}

export interface Batch {
  /** [B, H, W, C] pixels in [0, 1]. */
  x: tf.Tensor4D;
  /** [B] int32 labels. */
  y: tf.Tensor1D;
  /** Indices of the examples in the split. */
  indices: Int32Array;
}

/**
 * Iterate one epoch of a split in batches. Each yielded batch owns two tensors that the
 * caller disposes; nothing else is left allocated.
 */
export function* batches(split: DataSplit, opts: BatchOptions): Generator<Batch, void, undefined> {
  const bs = opts.batchSize;
  if (!Number.isInteger(bs) || bs < 1) throw new ConfigError(`must be a positive integer, got ${bs}`, undefined, 'batchSize');
  const aug = isActive(opts.augment) ? opts.augment : undefined;
  if (aug && !opts.rngAug) {
    throw new ConfigError('augmentation needs a seeded generator: pass rngAug', undefined, 'batches.rngAug');
  }
  const order = opts.rng ? opts.rng.permutation(split.size) : Int32Array.from({ length: split.size }, (_, i) => i);
  const [h, w, c] = split.shape;
  for (let start = 0; start < order.length; start += bs) {
    const end = Math.min(order.length, start + bs);
    if (opts.dropLast && end - start < bs) break;
    const indices = order.slice(start, end);
    const n = indices.length;
    const r = split.read(indices);
    const x = aug ? augmentImages(r.x, n, split.shape, aug, opts.rngAug as SeededRng) : r.x;
    yield { x: tf.tensor4d(x, [n, h, w, c], 'float32'), y: tf.tensor1d(r.y, 'int32'), indices };
  }
}

/** Number of batches `batches` yields for a split of `size` examples. */
export function batchCount(size: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}
