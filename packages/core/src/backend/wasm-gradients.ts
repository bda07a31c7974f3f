import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import { ConvPad, FilterGradMethod, RoundingMode, avgPoolValidInputGrad, conv2dFilterGrad, conv2dInputGrad } from './conv-grad';
import { ortKernelsActive, ortWants } from './onnxruntime/ort-kernels';

/*
 * The wasm backend (tfjs-backend-wasm 4.22) has no Conv2DBackpropFilter kernel, so the stock
 * conv2d gradient cannot run there, and its Conv2DBackpropInput kernel is a scalar loop many
 * times slower than the XNNPACK forward convolution. These gradient configs express both
 * gradients through forward convolutions instead. tfjs keeps one gradient registry for all
 * backends, so the configs are exact on every backend, not only on wasm.
 */

interface ConvAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: RoundingMode;
}

interface ConvBackpropInputAttrs extends ConvAttrs {
  inputShape: [number, number, number, number];
}

function unitDilation(d: ConvAttrs['dilations']): boolean {
  return d === undefined || (typeof d === 'number' ? d === 1 : d.every((v) => v === 1));
}

const conv2dGrad: tf.GradConfig = {
  kernelName: 'Conv2D',
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as ConvAttrs;
    if (a.dataFormat === 'NCHW') return stock.get('Conv2D')!.gradFunc(dy, saved, attrs);
    if (!unitDilation(a.dilations)) {
      throw new ConfigError(
        `gradient of conv2d: dilation rates other than 1 are not supported (got dilations ${String(a.dilations)}); use dilation 1 in trained layers`,
      );
    }
    const g = dy as tf.Tensor4D;
    // With the onnxruntime kernels registered, large gradients run as one
    // Conv2DBackpropInput / Conv2DBackpropFilter kernel each (native GEMMs); small ones keep the
    // formulations through wasm forward convolutions.
    if (ortWants(convFlops(g, w))) {
      return {
        x: () => tf.conv2dTranspose(g, w, x.shape, a.strides as [number, number], a.pad as 'same', a.dimRoundingMode),
        filter: () => filterGradKernel(x, g, w.shape, a),
      };
    }
    return {
      x: () => conv2dInputGrad(g, w, x.shape, a.strides, a.pad, a.dimRoundingMode),
      filter: () => conv2dFilterGrad(x, g, w.shape, a.strides, a.pad, a.dimRoundingMode, filterMethod),
    };
  },
};

// conv2dTranspose's gradient needs the filter gradient of the conv it transposes.
const conv2dBackpropInputGrad: tf.GradConfig = {
  kernelName: 'Conv2DBackpropInput',
  inputsToSave: ['dy', 'filter'],
  gradFunc: (ddx, saved, attrs) => {
    const [dy, w] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as ConvBackpropInputAttrs;
    if (a.dataFormat === 'NCHW') return stock.get('Conv2DBackpropInput')!.gradFunc(ddx, saved, attrs);
    const g = ddx as tf.Tensor4D;
    return {
      dy: () => tf.conv2d(g, w, a.strides, a.pad, 'NHWC', 1, a.dimRoundingMode),
      filter: () =>
        ortWants(convFlops(dy, w)) ? filterGradKernel(g, dy, w.shape, a) : conv2dFilterGrad(g, dy, w.shape, a.strides, a.pad, a.dimRoundingMode, filterMethod),
    };
  },
};

/** Multiply-adds x 2 of a conv whose output gradient is dy and filter w ([KH, KW, C, O]). */
function convFlops(dy: tf.Tensor4D, w: tf.Tensor4D): number {
  return 2 * dy.size * w.shape[0] * w.shape[1] * w.shape[2];
}

/** The Conv2DBackpropFilter kernel (tfjs has no public op for it). */
function filterGradKernel(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], a: ConvAttrs): tf.Tensor4D {
  const attrs = { strides: a.strides, pad: a.pad, dataFormat: 'NHWC', dimRoundingMode: a.dimRoundingMode, filterShape: [...filterShape] };
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * a x b with either operand transposed (last two axes), the transposes done as separate
 * kernels: wasm's BatchMatMul with transposeA or transposeB is about ten times slower than a
 * transpose followed by a plain product.
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (!transposeA && !transposeB) return tf.matMul(a, b);
  // onnxruntime's products take transposed operands natively (Gemm transA/transB).
  if (ortKernelsActive()) {
    const k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
    const m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
    const n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
    const batches = Math.max(a.size / (a.shape[a.rank - 1] * a.shape[a.rank - 2]), b.size / (b.shape[b.rank - 1] * b.shape[b.rank - 2]));
    if (ortWants(2 * batches * m * n * k)) return tf.matMul(a, b, transposeA, transposeB);
  }
  // Either transpose the flagged operands, or compute (op(b)^T op(a)^T)^T, which transposes
  // the unflagged operands and the product instead: pick the one that moves fewer floats
  // (e.g. x W^T with a large W: transposing W costs more than the whole product).
  const size = (t: tf.Tensor) => t.size;
  const r = a.rank;
  const rows = transposeA ? a.shape[r - 1] : a.shape[r - 2];
  const cols = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  const batch = Math.max(size(a) / (a.shape[r - 1] * a.shape[r - 2]), size(b) / (b.shape[b.rank - 1] * b.shape[b.rank - 2]));
  const direct = (transposeA ? size(a) : 0) + (transposeB ? size(b) : 0);
  const flipped = (transposeA ? 0 : size(a)) + (transposeB ? 0 : size(b)) + batch * rows * cols;
  return tf.tidy(() => {
    if (direct <= flipped) return tf.matMul(transposeA ? swapLastAxes(a) : a, transposeB ? swapLastAxes(b) : b);
    return swapLastAxes(tf.matMul(transposeB ? b : swapLastAxes(b), transposeA ? a : swapLastAxes(a)));
  });
}

function swapLastAxes(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

// Same products as the stock gradient, with the transposes materialised.
const batchMatMulGrad: tf.GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const g = dy as tf.Tensor;
    if (!transposeA && !transposeB) return { a: () => matMulT(g, b, false, true), b: () => matMulT(a, g, true, false) };
    if (!transposeA && transposeB) return { a: () => matMulT(g, b, false, false), b: () => matMulT(g, a, true, false) };
    if (transposeA && !transposeB) return { a: () => matMulT(b, g, false, true), b: () => matMulT(a, g, false, false) };
    return { a: () => matMulT(b, g, true, true), b: () => matMulT(g, a, true, true) };
  },
};

// wasm's AvgPoolGrad kernel is several times slower than a forward average pool.
const avgPoolGrad: tf.GradConfig = {
  kernelName: 'AvgPool',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as { filterSize: number | [number, number]; strides: number | [number, number]; pad: ConvPad };
    if (a.pad !== 'valid' || x.rank !== 4) return stock.get('AvgPool')!.gradFunc(dy, saved, attrs);
    return { x: () => avgPoolValidInputGrad(dy as tf.Tensor4D, x.shape, a.filterSize, a.strides) };
  },
};

const OVERRIDES: readonly tf.GradConfig[] = [conv2dGrad, conv2dBackpropInputGrad, batchMatMulGrad, avgPoolGrad];

/** The gradient configs that were registered before the overrides, to restore them. */
const stock = new Map<string, tf.GradConfig>();
let filterMethod: FilterGradMethod = 'conv';

/**
 * Replace the conv2d, conv2dTranspose, matMul and avgPool gradients by ones built from fast
 * forward kernels.
 * Call after selecting the wasm backend; idempotent. The replacements are exact on any backend.
 */
export function registerWasmGradients(): void {
  for (const cfg of OVERRIDES) {
    if (!stock.has(cfg.kernelName)) {
      const prev = tf.getGradient(cfg.kernelName);
      if (!prev) throw new ConfigError(`no stock gradient for '${cfg.kernelName}': load @tensorflow/tfjs before registering overrides`);
      stock.set(cfg.kernelName, prev);
    }
    if (tf.getGradient(cfg.kernelName) !== cfg) tf.registerGradient(cfg);
  }
}

/** Restore the gradients that registerWasmGradients replaced (tests and benchmarks). */
export function unregisterWasmGradients(): void {
  for (const cfg of stock.values()) tf.registerGradient(cfg);
  stock.clear();
}

/** Names of the kernels whose gradients registerWasmGradients replaces. */
export function wasmGradientKernels(): string[] {
  return OVERRIDES.map((c) => c.kernelName);
}

/** Choose the filter-gradient formulation (benchmarks); 'conv' is the measured default. */
export function setWasmFilterGradMethod(method: FilterGradMethod): void {
  filterMethod = method;
}

export { avgPoolValidInputGrad, conv2dInputGrad, conv2dFilterGrad, setInputGradMethod } from './conv-grad';
export type { ConvPad, RoundingMode, FilterGradMethod, InputGradMethod } from './conv-grad';
