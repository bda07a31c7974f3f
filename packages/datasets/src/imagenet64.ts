import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { ConfigError, DataError } from '@certkd/core';
import { cacheRoot, cacheValid, markCache } from './cache';
import { fingerprint, isFile, requireDir } from './files';
import { extractZipEntry, listZip, npyToNumbers, parseNpyHeader, readZipEntry, ZipEntry } from './npz';
import { RowFileSplit, RowSegment } from './row-file-split';

/** The usual ImageNet channel statistics (pixel space). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
const ROW = 64 * 64 * 3;

function member(entries: ZipEntry[], name: string, file: string): ZipEntry {
  const e = entries.find((m) => m.name === `${name}.npy`);
  if (!e) throw new DataError(`no array '${name}' (members: ${entries.map((m) => m.name).join(', ')})`, file);
  return e;
}

/**
 * Open one downsampled-ImageNet .npz batch: 'labels' (1..1000) are read into memory, 'data'
 * [N, 12288] uint8 (CHW) stays on disk: read in place when stored, otherwise inflated once
 * into the cache folder (keyed by the archive's size + mtime).
 */
export async function openImagenet64Npz(file: string, cacheDir?: string): Promise<{ segment: RowSegment; labels: Int32Array }> {
  const entries = listZip(file);
  const lab = npyToNumbers(readZipEntry(file, member(entries, 'labels', file)), `${file}:labels.npy`);
  const dataEntry = member(entries, 'data', file);
  let npyFile: string;
  let npyOffset: number;
  if (dataEntry.method === 0) {
    npyFile = file;
    npyOffset = dataEntry.dataOffset;
  } else {
    const key = `${path.resolve(file)}|${fingerprint(file)}|data.npy`;
    const name = crypto.createHash('sha1').update(key).digest('hex').slice(0, 16);
    npyFile = path.join(cacheRoot(cacheDir), `imagenet64-${path.basename(file, '.npz')}-${name}.npy`);
    if (!cacheValid(npyFile, key, dataEntry.size)) {
      await extractZipEntry(file, dataEntry, npyFile);
      markCache(npyFile, key);
    }
    npyOffset = 0;
  }
  const headBuf = Buffer.alloc(Math.min(4096, fs.statSync(npyFile).size - npyOffset));
  const fd = fs.openSync(npyFile, 'r');
  try {
    fs.readSync(fd, headBuf, 0, headBuf.length, npyOffset);
  } finally {
    fs.closeSync(fd);
  }
  const h = parseNpyHeader(headBuf, `${file}:data.npy`);
  if (h.descr !== '|u1' || h.fortranOrder || h.shape.length !== 2 || h.shape[1] !== ROW) {
    throw new DataError(`'data' must be uint8 [N, ${ROW}] in C order, got ${h.descr} [${h.shape.join(', ')}]${h.fortranOrder ? ' Fortran order' : ''}`, file);
  }
  const n = h.shape[0];
  if (lab.values.length !== n) throw new DataError(`${n} images in 'data' but ${lab.values.length} labels: the counts must match`, file);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = lab.values[i];
    if (!Number.isInteger(v) || v < 1 || v > 1000) throw new DataError(`label ${v} of example ${i} is outside 1..1000`, file);
    labels[i] = v - 1;
  }
  if (npyOffset + h.dataOffset + n * ROW > fs.statSync(npyFile).size) {
    throw new DataError(`truncated 'data': ${n} rows of ${ROW} bytes do not fit`, file);
  }
  return { segment: { file: npyFile, offset: npyOffset + h.dataOffset, rows: n }, labels };
}

async function splitOf(files: string[], cacheDir: string | undefined, where: string): Promise<RowFileSplit> {
  const parts = [];
  for (const f of files) parts.push(await openImagenet64Npz(f, cacheDir));
  const labels = new Int32Array(parts.reduce((s, p) => s + p.labels.length, 0));
  let k = 0;
  for (const p of parts) {
    labels.set(p.labels, k);
    k += p.labels.length;
  }
  return new RowFileSplit(
    parts.map((p) => p.segment),
    labels,
    [64, 64, 3],
    1000,
    where,
  );
}

/**
 * Downsampled ImageNet 64x64 from the npz batches train_data_batch_1..10.npz (all present
 * ones, or those numbered in `trainBatches`) and val_data.npz (the test split).
 */
export async function loadImagenet64(root: string, opts: { cacheDir?: string; trainBatches?: number[] } = {}): Promise<LoadedDataset> {
  requireDir(root, 'ImageNet 64x64');
  const numbers = opts.trainBatches ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].filter((i) => isFile(path.join(root, `train_data_batch_${i}.npz`)));
  if (numbers.length === 0) throw new DataError('missing file: no train_data_batch_<k>.npz found', root);
  const trainFiles = numbers.map((i) => {
    const f = path.join(root, `train_data_batch_${i}.npz`);
    if (!isFile(f)) throw new DataError(`missing file: train_data_batch_${i}.npz`, root);
    return f;
  });
  const valFile = path.join(root, 'val_data.npz');
  if (!isFile(valFile)) throw new DataError('missing file: val_data.npz', root);
  return {
    name: 'imagenet64',
    input: { shape: [64, 64, 3], classes: 1000, mean: IMAGENET_MEAN.slice(), std: IMAGENET_STD.slice() },
    train: await splitOf(trainFiles, opts.cacheDir, `${root} (train)`),
    test: await splitOf([valFile], opts.cacheDir, valFile),
    augmentation: { cropPadding: 4, flip: true },
  };
}

export class Imagenet64Source implements DatasetSource {
  constructor(private readonly trainBatches?: number[]) {}
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    if (!opts.root) throw new ConfigError('ImageNet 64x64 needs the folder holding the .npz batches', undefined, 'dataset.root');
    return loadImagenet64(opts.root, { cacheDir: opts.cacheDir, trainBatches: this.trainBatches });
  }
}
