import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as jpeg from 'jpeg-js';
import type { DataSplit } from '@certkd/core';
import { DataError, writeFileAtomic } from '@certkd/core';
import { cacheRoot, cacheValid, markCache } from './cache';
import { fingerprint } from './files';
import { BYTE_TO_UNIT } from './pixel-lut';
import { checkIndex, checkLabels } from './uint8-split';

/** Decode a JPEG file to HWC uint8 RGB of the expected size; DataError naming the file otherwise. */
export function decodeJpegRgb(file: string, h: number, w: number): Uint8Array {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new DataError(`cannot read image: ${(e as Error).message}`, file);
  }
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(raw, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 64 });
  } catch (e) {
    throw new DataError(`unreadable JPEG: ${(e as Error).message ?? String(e)}`, file);
  }
  if (img.width !== w || img.height !== h) throw new DataError(`image is ${img.width}x${img.height}, expected ${w}x${h}`, file);
  const out = new Uint8Array(h * w * 3);
  for (let p = 0; p < h * w; p++) {
    out[3 * p] = img.data[4 * p];
    out[3 * p + 1] = img.data[4 * p + 1];
    out[3 * p + 2] = img.data[4 * p + 2];
  }
  return out;
}

export interface JpegSplitOptions {
  /** Folder for decoded shards; without one every read decodes its images again. */
  cacheDir?: string;
  /** Images per decoded shard (default 1000). */
  shardSize?: number;
  /** Names the cache files (e.g. 'tinyimagenet-train'). */
  cacheName: string;
}

/**
 * A split of JPEG files decoded lazily. With a cache folder, images are decoded a shard at a
 * time into raw HWC uint8 files keyed by the size + mtime of every source file in the shard,
 * so a changed or replaced image invalidates exactly its shard.
 */
export class JpegFolderSplit implements DataSplit {
  readonly size: number;
  private readonly shardSize: number;
  private readonly validShards = new Map<number, string>();
  private readonly imageBytes: number;

  constructor(
    private readonly files: string[],
    private readonly labelArray: Int32Array,
    readonly shape: [number, number, number],
    readonly classes: number,
    private readonly opts: JpegSplitOptions,
    where: string,
  ) {
    if (files.length !== labelArray.length) throw new DataError(`${files.length} images but ${labelArray.length} labels`, where);
    checkLabels(labelArray, classes, where);
    this.size = files.length;
    this.shardSize = opts.shardSize ?? 1000;
    this.imageBytes = shape[0] * shape[1] * shape[2];
  }

  labels(): Int32Array {
    return this.labelArray.slice();
  }

  read(indices: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
    const d = this.imageBytes;
    const x = new Float32Array(indices.length * d);
    const y = new Int32Array(indices.length);
    const buf = Buffer.alloc(d);
    const fds = new Map<string, number>();
    try {
      for (let k = 0; k < indices.length; k++) {
        const i = checkIndex(indices[k], this.size);
        let px: Uint8Array;
        if (this.opts.cacheDir === undefined) {
          px = decodeJpegRgb(this.files[i], this.shape[0], this.shape[1]);
        } else {
          const shardFile = this.ensureShard(Math.floor(i / this.shardSize));
          let fd = fds.get(shardFile);
          if (fd === undefined) fds.set(shardFile, (fd = fs.openSync(shardFile, 'r')));
          fs.readSync(fd, buf, 0, d, (i % this.shardSize) * d);
          px = buf;
        }
        const o = k * d;
        for (let j = 0; j < d; j++) x[o + j] = BYTE_TO_UNIT[px[j]];
        y[k] = this.labelArray[i];
      }
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
    return { x, y };
  }

  /** Decode every shard that is not cached yet (a warm-up; returns the number decoded). */
  prepare(): number {
    let decoded = 0;
    for (let s = 0; s * this.shardSize < this.size; s++) {
      this.validShards.delete(s);
      this.ensureShard(s, () => decoded++);
    }
    return decoded;
  }

  private ensureShard(s: number, onDecode?: () => void): string {
    const known = this.validShards.get(s);
    if (known) return known;
    const lo = s * this.shardSize;
    const hi = Math.min(this.size, lo + this.shardSize);
    const h = crypto.createHash('sha1');
    for (let i = lo; i < hi; i++) {
      let fp: string;
      try {
        fp = fingerprint(this.files[i]);
      } catch (e) {
        throw new DataError(`cannot stat image: ${(e as Error).message}`, this.files[i]);
      }
      h.update(`${this.files[i]}|${fp}\n`);
    }
    const key = h.digest('hex');
    const file = path.join(cacheRoot(this.opts.cacheDir), `${this.opts.cacheName}-${this.shardSize}-${s}.u8`);
    const bytes = (hi - lo) * this.imageBytes;
    if (!cacheValid(file, key, bytes)) {
      const out = new Uint8Array(bytes);
      for (let i = lo; i < hi; i++) out.set(decodeJpegRgb(this.files[i], this.shape[0], this.shape[1]), (i - lo) * this.imageBytes);
      writeFileAtomic(file, out);
      markCache(file, key);
      onDecode?.();
    }
    this.validShards.set(s, file);
    return file;
  }
}
