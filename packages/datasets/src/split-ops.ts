import type { DataSplit } from '@certkd/core';
import { ConfigError, SeededRng } from '@certkd/core';
import { checkIndex } from './uint8-split';

/** A view of some examples of another split (no pixel copies). */
export class IndexedSplit implements DataSplit {
  readonly size: number;
  readonly shape: [number, number, number];
  readonly classes: number;

  constructor(
    readonly parent: DataSplit,
    readonly indices: Int32Array,
  ) {
    for (const i of indices) checkIndex(i, parent.size);
    this.size = indices.length;
    this.shape = parent.shape;
    this.classes = parent.classes;
  }

  labels(): Int32Array {
    const all = this.parent.labels();
    return this.indices.map((i) => all[i]);
  }

  read(indices: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
    const mapped = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) mapped[k] = this.indices[checkIndex(indices[k], this.size)];
    return this.parent.read(mapped);
  }
}

/**
 * Deterministic train/validation split of a training split: `validation` is a fraction in
 * (0, 1) or a count of examples; the validation examples are the first ones of
 * rng.permutation(size). Both parts keep the original order of their examples.
 */
export function splitTrainValidation(split: DataSplit, validation: number, rng: SeededRng): { train: DataSplit; validation: DataSplit } {
  let v: number;
  if (validation > 0 && validation < 1) v = Math.round(validation * split.size);
  else if (Number.isInteger(validation) && validation >= 1 && validation < split.size) v = validation;
  else {
    throw new ConfigError(`must be a fraction in (0, 1) or a whole count in [1, ${split.size - 1}], got ${validation}`, undefined, 'validation');
  }
  if (v < 1 || v >= split.size) throw new ConfigError(`leaves an empty part (${v} of ${split.size})`, undefined, 'validation');
  const perm = rng.permutation(split.size);
  const val = perm.slice(0, v).sort();
  const train = perm.slice(v).sort();
  return { train: new IndexedSplit(split, train), validation: new IndexedSplit(split, val) };
}

export interface SubsetOptions {
  /** Keep the class proportions of the split (largest-remainder allocation). */
  stratified?: boolean;
}

/**
 * The first `n` examples of a split: in order, or after rng.permutation(size) when `rng` is
 * given; with `stratified`, each class contributes in proportion to its count.
 */
export function subset(split: DataSplit, n: number, rng?: SeededRng, options: SubsetOptions = {}): DataSplit {
  if (!Number.isInteger(n) || n < 1 || n > split.size) {
    throw new ConfigError(`must be a whole number in [1, ${split.size}], got ${n}`, undefined, 'subset');
  }
  const order = rng ? rng.permutation(split.size) : Int32Array.from({ length: split.size }, (_, i) => i);
  if (!options.stratified) return new IndexedSplit(split, order.slice(0, n).sort());
  const labels = split.labels();
  const counts = new Array<number>(split.classes).fill(0);
  for (const l of labels) counts[l]++;
  const quota = counts.map((c) => Math.floor((c * n) / split.size));
  let left = n - quota.reduce((a, b) => a + b, 0);
  const byRemainder = counts.map((c, k) => ({ k, rem: (c * n) / split.size - quota[k] })).sort((a, b) => b.rem - a.rem || a.k - b.k);
  for (const { k } of byRemainder) {
    if (left === 0) break;
    if (quota[k] < counts[k]) {
      quota[k]++;
      left--;
    }
  }
  const picked: number[] = [];
  for (const i of order) {
    const l = labels[i];
    if (quota[l] > 0) {
      quota[l]--;
      picked.push(i);
    }
  }
  return new IndexedSplit(split, Int32Array.from(picked).sort());
}

/** Examples per class of a split. */
export function classCounts(split: DataSplit): number[] {
  const counts = new Array<number>(split.classes).fill(0);
  for (const l of split.labels()) counts[l]++;
  return counts;
}
