import * as path from 'path';
import { DataError } from '@certkd/core';
import { IdxArray, IDX_TYPES, readIdxFile } from './idx';
import { findFile, requireDir } from './files';
import { Uint8Split } from './uint8-split';

const LABEL_TYPES = new Set([0x08, 0x09, 0x0b, 0x0c]);

/** The four IDX files of an MNIST-style dataset, by split. */
export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** Locate the four MNIST-style IDX files in `dir` (plain or .gz, '-idx3-ubyte' or '.idx3-ubyte' names). */
export function findIdxFiles(dir: string, what: string): IdxFiles {
  requireDir(dir, what);
  const names = (split: string, kind: 'images' | 'labels') => {
    const n = kind === 'images' ? 3 : 1;
    return [`${split}-${kind}-idx${n}-ubyte`, `${split}-${kind}.idx${n}-ubyte`];
  };
  return {
    trainImages: findFile(dir, names('train', 'images')),
    trainLabels: findFile(dir, names('train', 'labels')),
    testImages: findFile(dir, names('t10k', 'images')),
    testLabels: findFile(dir, names('t10k', 'labels')),
  };
}

const hex = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** Check that an IDX array is an image file: magic 0x00000803 (unsigned bytes, [N, H, W]). */
export function checkIdxImages(a: IdxArray, file: string, hw?: [number, number]): Uint8Array {
  if (a.type !== 0x08 || a.dims.length !== 3) {
    throw new DataError(
      `wrong magic number ${hex(a.magic)} for an image file: expected 0x00000803 (unsigned bytes, 3 dimensions), ` +
        `got ${IDX_TYPES[a.type].name} with ${a.dims.length} dimension(s)`,
      file,
    );
  }
  if (hw && (a.dims[1] !== hw[0] || a.dims[2] !== hw[1])) {
    throw new DataError(`images are ${a.dims[1]}x${a.dims[2]}, expected ${hw[0]}x${hw[1]}`, file);
  }
  return a.data as Uint8Array;
}

/** Check that an IDX array is a label file: magic 0x00000801 (or another integer type, 1 dimension). */
export function checkIdxLabels(a: IdxArray, file: string, classes: number): Int32Array {
  if (!LABEL_TYPES.has(a.type) || a.dims.length !== 1) {
    throw new DataError(
      `wrong magic number ${hex(a.magic)} for a label file: expected 0x00000801 (unsigned bytes, 1 dimension), ` +
        `got ${IDX_TYPES[a.type].name} with ${a.dims.length} dimension(s)`,
      file,
    );
  }
  const out = Int32Array.from(a.data as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (out[i] < 0 || out[i] >= classes) {
      throw new DataError(`label ${out[i]} of example ${i} is outside [0, ${classes - 1}]`, file);
    }
  }
  return out;
}

/** Load one split from an image and a label IDX file. */
export function loadIdxSplit(imagesFile: string, labelsFile: string, classes: number, hw?: [number, number]): Uint8Split {
  const images = readIdxFile(imagesFile);
  const pixels = checkIdxImages(images, imagesFile, hw);
  const labels = checkIdxLabels(readIdxFile(labelsFile), labelsFile, classes);
  if (labels.length !== images.dims[0]) {
    throw new DataError(`${images.dims[0]} images but ${labels.length} labels in ${path.basename(labelsFile)}: the counts must match`, imagesFile);
  }
  return new Uint8Split(pixels, labels, [images.dims[1], images.dims[2], 1], classes, imagesFile);
}

/** Load train and test splits from the four IDX files. */
export function loadIdxFiles(files: IdxFiles, classes: number, hw?: [number, number]): { train: Uint8Split; test: Uint8Split } {
  const train = loadIdxSplit(files.trainImages, files.trainLabels, classes, hw);
  const test = loadIdxSplit(files.testImages, files.testLabels, classes, hw);
  if (train.shape[0] !== test.shape[0] || train.shape[1] !== test.shape[1]) {
    throw new DataError(`test images are ${test.shape[0]}x${test.shape[1]} but train images are ${train.shape[0]}x${train.shape[1]}`, files.testImages);
  }
  return { train, test };
}
