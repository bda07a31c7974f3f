import type { InputInfo } from '../network/architectures';

/** One split of a dataset: images in pixel space [0, 1], NHWC, read by index. */
export interface DataSplit {
  readonly size: number;
  /** [H, W, C] */
  readonly shape: [number, number, number];
  readonly classes: number;
  /** All labels (for class counts and stratified work). */
  labels(): Int32Array;
  /** Copy the examples at `indices` into flat NHWC float32 pixels and int32 labels. */
  read(indices: ArrayLike<number>): { x: Float32Array; y: Int32Array };
}

export interface Augmentation {
  /** Random crop to the original size after zero-padding by this many pixels (0: none). */
  cropPadding: number;
  /** Random horizontal flip. */
  flip: boolean;
}

export interface LoadedDataset {
  name: string;
  input: InputInfo;
  train: DataSplit;
  test: DataSplit;
  classNames?: string[];
  /** METHODS 9.2 training augmentation for this dataset. */
  augmentation: Augmentation;
}

export interface DatasetLoadOptions {
  /** Folder holding the user's files (ignored by bundled datasets). */
  root?: string;
  /** Folder for decoded-tensor caches. */
  cacheDir?: string;
}

/** What a dataset plugin's `create` returns. */
export interface DatasetSource {
  load(opts: DatasetLoadOptions): Promise<LoadedDataset>;
}
