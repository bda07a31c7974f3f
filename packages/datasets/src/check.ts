import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DataError } from '@certkd/core';
import { findFile, readMaybeGzip, requireDir } from './files';
import { checkIdxImages, checkIdxLabels } from './idx-dataset';
import { readIdxFile } from './idx';
import { parseCifarBatch } from './cifar10';
import { parseSvhnMat } from './svhn';
import { listTinyImagenet } from './tinyimagenet';
import { decodeJpegRgb } from './jpeg-split';
import { openImagenet64Npz } from './imagenet64';

export interface SplitReport {
  count: number;
  /** Examples per class (index = class). */
  perClass: number[];
}

export interface DatasetCheck {
  dataset: string;
  dir: string;
  ok: boolean;
  splits: Record<string, SplitReport>;
  /** One line per problem found, each naming the file. */
  problems: string[];
}

export interface CheckOptions {
  /** Decode every image of folder datasets (TinyImageNet) instead of listing them only. */
  deep?: boolean;
  /** Cache folder for formats that extract data (imagenet64). */
  cacheDir?: string;
}

export const CHECKABLE_DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'svhn', 'tinyimagenet', 'imagenet64'] as const;

const MAX_IMAGE_PROBLEMS = 20;

/**
 * Validate a user's dataset folder without stopping at the first problem: every file is
 * parsed on its own, and the report gives counts per class per split and every problem found.
 */
export async function checkDataset(dir: string, name: string, opts: CheckOptions = {}): Promise<DatasetCheck> {
  if (!(CHECKABLE_DATASETS as readonly string[]).includes(name)) {
    throw new ConfigError(`unknown dataset '${name}'; checkable: ${CHECKABLE_DATASETS.join(', ')}`, undefined, 'dataset');
  }
  const problems: string[] = [];
  const labels: Record<string, number[][]> = {};
  const classesOf: Record<string, number> = {
    mnist: 10,
    'fashion-mnist': 10,
    cifar10: 10,
    svhn: 10,
    tinyimagenet: 0,
    imagenet64: 1000,
  };
  const attempt = async <T>(fn: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DataError) problems.push(e.message);
      else throw e;
      return undefined;
    }
  };
  const add = (split: string, l: ArrayLike<number>) => (labels[split] ??= []).push(Array.from(l));

  const dirOk = await attempt(() => requireDir(dir, name));
  if (dirOk !== undefined || fs.existsSync(dir)) {
    if (name === 'mnist' || name === 'fashion-mnist') {
      for (const [split, prefix] of [
        ['train', 'train'],
        ['test', 't10k'],
      ] as const) {
        const imgFile = await attempt(() => findFile(dir, [`${prefix}-images-idx3-ubyte`, `${prefix}-images.idx3-ubyte`]));
        const labFile = await attempt(() => findFile(dir, [`${prefix}-labels-idx1-ubyte`, `${prefix}-labels.idx1-ubyte`]));
        const img = imgFile
          ? await attempt(() => {
              const a = readIdxFile(imgFile);
              checkIdxImages(a, imgFile, [28, 28]);
              return a;
            })
          : undefined;
        const lab = labFile ? await attempt(() => checkIdxLabels(readIdxFile(labFile), labFile, 10)) : undefined;
        if (lab) add(split, lab);
        if (img && lab && img.dims[0] !== lab.length) {
          problems.push(`${imgFile}: ${img.dims[0]} images but ${lab.length} labels in ${path.basename(labFile as string)}: the counts must match`);
        }
      }
    } else if (name === 'cifar10') {
      const subs = ['', 'cifar-10-batches-bin'];
      const files: [string, string][] = [1, 2, 3, 4, 5].map((i) => ['train', `data_batch_${i}.bin`]);
      files.push(['test', 'test_batch.bin']);
      for (const [split, f] of files) {
        const file = await attempt(() => findFile(dir, [f], subs));
        const r = file ? await attempt(() => parseCifarBatch(readMaybeGzip(file), file)) : undefined;
        if (r) add(split, r.labels);
      }
    } else if (name === 'svhn') {
      for (const [split, f] of [
        ['train', 'train_32x32.mat'],
        ['test', 'test_32x32.mat'],
      ]) {
        const file = await attempt(() => findFile(dir, [f]));
        const r = file ? await attempt(() => parseSvhnMat(readMaybeGzip(file), file)) : undefined;
        if (r) add(split, r.labels);
      }
    } else if (name === 'tinyimagenet') {
      const l = await attempt(() => listTinyImagenet(dir));
      if (l) {
        classesOf.tinyimagenet = l.wnids.length;
        add('train', l.train.labels);
        add('test', l.val.labels);
        if (opts.deep) {
          let bad = 0;
          for (const f of [...l.train.files, ...l.val.files]) {
            try {
              decodeJpegRgb(f, 64, 64);
            } catch (e) {
              if (!(e instanceof DataError)) throw e;
              if (++bad <= MAX_IMAGE_PROBLEMS) problems.push(e.message);
            }
          }
          if (bad > MAX_IMAGE_PROBLEMS) problems.push(`... and ${bad - MAX_IMAGE_PROBLEMS} more unreadable images`);
        }
      }
    } else {
      const trainFiles = fs.existsSync(dir)
        ? fs
            .readdirSync(dir)
            .filter((f) => /^train_data_batch_\d+\.npz$/.test(f))
            .sort()
        : [];
      if (trainFiles.length === 0) problems.push(`${dir}: missing file: no train_data_batch_<k>.npz found`);
      for (const f of trainFiles) {
        const r = await attempt(() => openImagenet64Npz(path.join(dir, f), opts.cacheDir));
        if (r) add('train', r.labels);
      }
      const val = path.join(dir, 'val_data.npz');
      if (!fs.existsSync(val)) problems.push(`${val}: missing file`);
      else {
        const r = await attempt(() => openImagenet64Npz(val, opts.cacheDir));
        if (r) add('test', r.labels);
      }
    }
  }
  const classes = classesOf[name];
  const splits: Record<string, SplitReport> = {};
  for (const [split, parts] of Object.entries(labels)) {
    const perClass = new Array<number>(classes).fill(0);
    let count = 0;
    for (const p of parts) {
      for (const l of p) perClass[l]++;
      count += p.length;
    }
    splits[split] = { count, perClass };
  }
  return { dataset: name, dir, ok: problems.length === 0, splits, problems };
}
