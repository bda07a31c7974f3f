import type { DataSplit } from '@certkd/core';
import { DataError } from '@certkd/core';
import { BYTE_TO_UNIT } from './pixel-lut';

/**
 * A split held in memory as uint8 NHWC pixels; `read` converts only the requested examples
 * to float32 in [0, 1], so the whole set is never copied as floats.
 */
export class Uint8Split implements DataSplit {
  readonly size: number;
  private readonly imageSize: number;

  constructor(
    readonly pixels: Uint8Array,
    private readonly labelArray: Int32Array,
    readonly shape: [number, number, number],
    readonly classes: number,
    where = 'split',
  ) {
    this.imageSize = shape[0] * shape[1] * shape[2];
    this.size = labelArray.length;
    if (pixels.length !== this.size * this.imageSize) {
      throw new DataError(`${pixels.length} pixel bytes do not hold ${this.size} images of shape [${shape.join(', ')}]`, where);
    }
    checkLabels(labelArray, classes, where);
  }

  labels(): Int32Array {
    return this.labelArray.slice();
  }

  read(indices: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
    const n = indices.length;
    const d = this.imageSize;
    const x = new Float32Array(n * d);
    const y = new Int32Array(n);
    const px = this.pixels;
    for (let k = 0; k < n; k++) {
      const i = checkIndex(indices[k], this.size);
      const src = i * d;
      const dst = k * d;
      for (let j = 0; j < d; j++) x[dst + j] = BYTE_TO_UNIT[px[src + j]];
      y[k] = this.labelArray[i];
    }
    return { x, y };
  }
}

/** Throws a RangeError unless `i` is an integer index into a split of `size` examples. */
export function checkIndex(i: number, size: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new RangeError(`example index ${i} is outside [0, ${size})`);
  }
  return i;
}

/** Throws a DataError naming the first label outside [0, classes). */
export function checkLabels(labels: ArrayLike<number>, classes: number, where: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= classes) {
      throw new DataError(`label ${l} of example ${i} is outside [0, ${classes - 1}]`, where);
    }
  }
}

/** One 32x32x3, 10-class split from several parsed parts (CIFAR-10 batches, SVHN files). */
export function concatRgb32(parts: { pixels: Uint8Array; labels: Int32Array }[], where: string): Uint8Split {
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const pixels = new Uint8Array(n * 3072);
  const labels = new Int32Array(n);
  let k = 0;
  for (const p of parts) {
    pixels.set(p.pixels, k * 3072);
    labels.set(p.labels, k);
    k += p.labels.length;
  }
  return new Uint8Split(pixels, labels, [32, 32, 3], 10, where);
}
