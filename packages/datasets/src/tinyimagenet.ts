import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { ConfigError, DataError } from '@certkd/core';
import { isFile, requireDir } from './files';
import { JpegFolderSplit } from './jpeg-split';

/** Channel statistics commonly used for TinyImageNet (pixel space). */
export const TINYIMAGENET_MEAN = [0.4802, 0.4481, 0.3975];
export const TINYIMAGENET_STD = [0.2302, 0.2265, 0.2262];

const isJpeg = (f: string) => /\.jpe?g$/i.test(f);

function readLines(file: string): string[] {
  if (!isFile(file)) throw new DataError('missing file', file);
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The file lists of a TinyImageNet folder: wnids.txt, train/<wnid>/images/*.JPEG, val/images + val_annotations.txt. */
export function listTinyImagenet(root: string): {
  wnids: string[];
  train: { files: string[]; labels: Int32Array };
  val: { files: string[]; labels: Int32Array };
  classNames: string[];
} {
  requireDir(root, 'TinyImageNet');
  const wnids = readLines(path.join(root, 'wnids.txt'));
  const index = new Map(wnids.map((w, i) => [w, i]));
  if (index.size !== wnids.length) throw new DataError('duplicate wnids', path.join(root, 'wnids.txt'));
  const trainFiles: string[] = [];
  const trainLabels: number[] = [];
  requireDir(path.join(root, 'train'), 'TinyImageNet train');
  wnids.forEach((w, c) => {
    const dir = path.join(root, 'train', w, 'images');
    requireDir(dir, `TinyImageNet train class ${w}`);
    const files = fs.readdirSync(dir).filter(isJpeg).sort();
    if (files.length === 0) throw new DataError(`no JPEG images for class ${w}`, dir);
    for (const f of files) {
      trainFiles.push(path.join(dir, f));
      trainLabels.push(c);
    }
  });
  const valDir = path.join(root, 'val', 'images');
  requireDir(valDir, 'TinyImageNet validation images');
  const annFile = path.join(root, 'val', 'val_annotations.txt');
  const valFiles: string[] = [];
  const valLabels: number[] = [];
  readLines(annFile).forEach((line, i) => {
    const [name, wnid] = line.split('\t');
    const c = index.get(wnid ?? '');
    if (!name || c === undefined) throw new DataError(`line ${i + 1}: unknown class '${wnid}' (not in wnids.txt)`, annFile);
    const f = path.join(valDir, name);
    if (!isFile(f)) throw new DataError(`line ${i + 1}: image ${name} is missing from val/images`, annFile);
    valFiles.push(f);
    valLabels.push(c);
  });
  let classNames = wnids.slice();
  const words = path.join(root, 'words.txt');
  if (isFile(words)) {
    const m = new Map(readLines(words).map((l) => l.split('\t') as [string, string]));
    classNames = wnids.map((w) => m.get(w) ?? w);
  }
  return {
    wnids,
    train: { files: trainFiles, labels: Int32Array.from(trainLabels) },
    val: { files: valFiles, labels: Int32Array.from(valLabels) },
    classNames,
  };
}

/** TinyImageNet (64x64 RGB, train + val as test), JPEGs decoded lazily with a shard cache in cacheDir. */
export function loadTinyImagenet(root: string, opts: { cacheDir?: string; shardSize?: number } = {}): LoadedDataset {
  const l = listTinyImagenet(root);
  const classes = l.wnids.length;
  const tag = crypto.createHash('sha1').update(path.resolve(root)).digest('hex').slice(0, 10);
  const mk = (s: { files: string[]; labels: Int32Array }, name: string) =>
    new JpegFolderSplit(
      s.files,
      s.labels,
      [64, 64, 3],
      classes,
      { cacheDir: opts.cacheDir, shardSize: opts.shardSize, cacheName: `tinyimagenet-${tag}-${name}` },
      `${root} (${name})`,
    );
  return {
    name: 'tinyimagenet',
    input: { shape: [64, 64, 3], classes, mean: TINYIMAGENET_MEAN.slice(), std: TINYIMAGENET_STD.slice() },
    train: mk(l.train, 'train'),
    test: mk(l.val, 'val'),
    classNames: l.classNames,
    augmentation: { cropPadding: 4, flip: true },
  };
}

export class TinyImagenetSource implements DatasetSource {
  constructor(private readonly shardSize?: number) {}
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    if (!opts.root) throw new ConfigError('TinyImageNet needs the folder holding wnids.txt, train/ and val/', undefined, 'dataset.root');
    return loadTinyImagenet(opts.root, { cacheDir: opts.cacheDir, shardSize: this.shardSize });
  }
}
