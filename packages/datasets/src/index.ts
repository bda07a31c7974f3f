export { Uint8Split, checkIndex, checkLabels } from './uint8-split';
export { IDX_TYPES, parseIdx, readIdxFile, encodeIdx } from './idx';
export type { IdxArray, IdxTypeCode } from './idx';
export { findIdxFiles, checkIdxImages, checkIdxLabels, loadIdxSplit, loadIdxFiles } from './idx-dataset';
export type { IdxFiles } from './idx-dataset';
export { MNIST_MEAN, MNIST_STD, bundledMnistDir, loadMnist, MnistSource } from './mnist';
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  FASHION_BUNDLED_TEST_PER_CLASS,
  bundledFashionDir,
  loadBundledFashion,
  loadFashionMnist,
  FashionMnistSource,
} from './fashion-mnist';
export { CIFAR10_MEAN, CIFAR10_STD, CIFAR10_CLASSES, parseCifarBatch, findCifarFiles, loadCifar10, Cifar10Source } from './cifar10';
export { parseMat5, encodeMat5 } from './mat5';
export type { MatArray } from './mat5';
export { SVHN_MEAN, SVHN_STD, parseSvhnMat, loadSvhn, SvhnSource } from './svhn';
export { listZip, readZipEntry, extractZipEntry, parseNpyHeader, npyToNumbers, encodeNpy, encodeZip } from './npz';
export type { ZipEntry, NpyHeader } from './npz';
export { RowFileSplit } from './row-file-split';
export type { RowSegment } from './row-file-split';
export { IMAGENET_MEAN, IMAGENET_STD, openImagenet64Npz, loadImagenet64, Imagenet64Source } from './imagenet64';
export { decodeJpegRgb, JpegFolderSplit } from './jpeg-split';
export type { JpegSplitOptions } from './jpeg-split';
export { TINYIMAGENET_MEAN, TINYIMAGENET_STD, listTinyImagenet, loadTinyImagenet, TinyImagenetSource } from './tinyimagenet';
export { makeSynthetic, SyntheticSource } from './synthetic';
export type { SyntheticOptions } from './synthetic';
export { augmentImages, isActive as isAugmentationActive } from './augment';
export { batches, batchCount } from './batching';
export type { BatchOptions, Batch } from './batching';
export { IndexedSplit, splitTrainValidation, subset, classCounts } from './split-ops';
export type { SubsetOptions } from './split-ops';
export { checkDataset, CHECKABLE_DATASETS } from './check';
export type { DatasetCheck, SplitReport, CheckOptions } from './check';
export { DATASET_PLUGINS, registerDatasets } from './plugins';
