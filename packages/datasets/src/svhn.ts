import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { ConfigError, DataError } from '@certkd/core';
import { findFile, readMaybeGzip, requireDir } from './files';
import { parseMat5 } from './mat5';
import { Uint8Split, concatRgb32 } from './uint8-split';

/** Per-channel statistics of the SVHN training set (pixel space). */
export const SVHN_MEAN = [0.4377, 0.4438, 0.4728];
export const SVHN_STD = [0.198, 0.201, 0.197];

/**
 * Parse one SVHN cropped-digits file (MATLAB v5: X uint8 [32, 32, 3, N] column-major,
 * y [N, 1] with labels 1..10 where 10 stands for the digit 0) into HWC pixels and labels 0..9.
 */
export function parseSvhnMat(buf: Uint8Array, file: string): { pixels: Uint8Array; labels: Int32Array } {
  const vars = parseMat5(buf, file);
  const X = vars.get('X');
  const y = vars.get('y');
  if (!X) throw new DataError(`no variable 'X' (found: ${[...vars.keys()].join(', ') || 'none'})`, file);
  if (!y) throw new DataError(`no variable 'y' (found: ${[...vars.keys()].join(', ') || 'none'})`, file);
  if (!(X.data instanceof Uint8Array) || X.dims.length !== 4 || X.dims[0] !== 32 || X.dims[1] !== 32 || X.dims[2] !== 3) {
    throw new DataError(`X must be uint8 [32, 32, 3, N], got dimensions [${X.dims.join(', ')}]`, file);
  }
  const n = X.dims[3];
  const ny = y.dims.reduce((a, b) => a * b, 1);
  if (ny !== n || y.dims.filter((d) => d !== 1).length > 1) {
    throw new DataError(`${n} images in X but y has dimensions [${y.dims.join(', ')}]: the counts must match`, file);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (!Number.isInteger(v) || v < 1 || v > 10) throw new DataError(`label y(${i + 1}) = ${v} is outside 1..10`, file);
    labels[i] = v === 10 ? 0 : v;
  }
  const src = X.data;
  const pixels = new Uint8Array(n * 3072);
  // column-major X(r, c, ch, i) sits at r + 32 c + 1024 ch + 3072 i
  for (let i = 0; i < n; i++) {
    const o = i * 3072;
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        const dst = o + (r * 32 + c) * 3;
        const s = o + r + 32 * c;
        pixels[dst] = src[s];
        pixels[dst + 1] = src[s + 1024];
        pixels[dst + 2] = src[s + 2048];
      }
    }
  }
  return { pixels, labels };
}

function splitFrom(files: string[], where: string): Uint8Split {
  return concatRgb32(
    files.map((f) => parseSvhnMat(readMaybeGzip(f), f)),
    where,
  );
}

/** SVHN cropped digits from train_32x32.mat and test_32x32.mat (plus extra_32x32.mat in train when `extra`). */
export function loadSvhn(root: string, extra = false): LoadedDataset {
  requireDir(root, 'SVHN');
  const trainFiles = [findFile(root, ['train_32x32.mat'])];
  if (extra) trainFiles.push(findFile(root, ['extra_32x32.mat']));
  return {
    name: 'svhn',
    input: { shape: [32, 32, 3], classes: 10, mean: SVHN_MEAN.slice(), std: SVHN_STD.slice() },
    train: splitFrom(trainFiles, `${root} (train)`),
    test: splitFrom([findFile(root, ['test_32x32.mat'])], `${root} (test)`),
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    // digits must not be mirrored; small shifts only
    augmentation: { cropPadding: 2, flip: false },
  };
}

export class SvhnSource implements DatasetSource {
  constructor(private readonly extra = false) {}
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    if (!opts.root) throw new ConfigError('SVHN needs the folder holding train_32x32.mat and test_32x32.mat', undefined, 'dataset.root');
    return loadSvhn(opts.root, this.extra);
  }
}
