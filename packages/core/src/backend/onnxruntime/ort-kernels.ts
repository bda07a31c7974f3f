import * as tf from '@tensorflow/tfjs-core';
import { OnnxConstant, OnnxGraph, OnnxNode, ONNX_FLOAT, ONNX_INT64 } from './onnx-graph';
import { loadOrt, ortThreads, releaseOrtSessions, runOrt } from './ort-runtime';

/*
 * The heavy kernels of the wasm backend (convolutions, their gradients, matrix products)
 * re-registered for 'wasm' so that large calls run on onnxruntime-node (AVX2/AVX-512 and
 * threads) while everything else stays on wasm. Each call becomes a small ONNX graph (cached per
 * op, shapes and attributes) run on Float32Array views of the wasm heap: the inputs are read in
 * place and the output is written into the tensor tfjs allocated for it.
 * Layouts: tfjs is NHWC with [KH, KW, C, O] filters, ONNX Conv is NCHW with [O, C, KH, KW]
 * filters; the graphs transpose in and out (onnxruntime's layout optimiser fuses what it can).
 */

type TensorInfo = tf.TensorInfo;
type Pair = [number, number];

interface WasmBackendLike {
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: object): boolean;
  wasm: { HEAPU8: Uint8Array };
}

export const ORT_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul'] as const;
export type OrtKernelName = (typeof ORT_KERNELS)[number];

/**
 * Calls below this many multiply-adds (x2: FLOPs) stay on the wasm kernels: measured crossover
 * where onnxruntime's ~10 us call plus its layout transposes beat XNNPACK (docs/performance.md).
 * CERTKD_ORT_MIN_FLOPS overrides it (0 routes every call).
 */
export const DEFAULT_ORT_MIN_FLOPS = 1e7;
let minFlops: number | undefined;

function envMinFlops(): number | undefined {
  const v = process.env.CERTKD_ORT_MIN_FLOPS;
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`CERTKD_ORT_MIN_FLOPS must be a non-negative number, got '${v}'`);
  return n;
}

export function ortMinFlops(): number {
  return (minFlops ??= envMinFlops() ?? DEFAULT_ORT_MIN_FLOPS);
}

/** Route calls of at least n FLOPs to onnxruntime (0: all of them). */
export function setOrtMinFlops(n: number): void {
  if (Number.isNaN(n) || n < 0) throw new Error(`onnxruntime FLOP threshold must be a non-negative number (Infinity: none), got ${n}`);
  minFlops = n;
}

/** Kernel configs that were registered for 'wasm' before the onnxruntime ones (undefined: none). */
const previous = new Map<string, tf.KernelConfig | undefined>();
let active = false;
const counts = new Map<string, { ort: number; wasm: number }>();

/** Whether the onnxruntime kernels are registered for the wasm backend and it is the active backend. */
export function ortKernelsActive(): boolean {
  return active && tf.getBackend() === 'wasm';
}

/** Whether a call of this many FLOPs would run on onnxruntime (gradient code uses it to choose a formulation). */
export function ortWants(flops: number): boolean {
  return ortKernelsActive() && flops >= ortMinFlops();
}

/** Calls per kernel routed to onnxruntime and kept on wasm since the last reset (tests, benchmarks). */
export function ortKernelCounts(): Record<string, { ort: number; wasm: number }> {
  return Object.fromEntries(counts);
}

export function resetOrtKernelCounts(): void {
  counts.clear();
}

function count(name: string, onOrt: boolean): void {
  const c = counts.get(name) ?? { ort: 0, wasm: 0 };
  if (onOrt) c.ort++;
  else c.wasm++;
  counts.set(name, c);
}

/**
 * Register the onnxruntime kernels for the 'wasm' backend (idempotent). Throws with the reason
 * when onnxruntime-node cannot be loaded; the wasm kernels are then left untouched.
 */
export function registerOrtKernels(): void {
  const loaded = loadOrt();
  if (!loaded.ok) throw new Error(loaded.reason);
  if (active) return;
  for (const name of ORT_KERNELS) {
    const prev = tf.getKernel(name, 'wasm');
    previous.set(name, prev);
    if (prev) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      setupFunc: prev?.setupFunc,
      disposeFunc: prev?.disposeFunc,
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend }) => dispatch(name, prev, args)) as tf.KernelFunc,
    });
  }
  active = true;
}

/** Restore the stock wasm kernels and release every onnxruntime session. */
export function unregisterOrtKernels(): void {
  if (!active) return;
  for (const name of ORT_KERNELS) {
    tf.unregisterKernel(name, 'wasm');
    const prev = previous.get(name);
    if (prev) tf.registerKernel(prev);
  }
  previous.clear();
  active = false;
  releaseOrtSessions();
}

/** Description for the backend report: what runs where. */
export function ortDescription(): string {
  const loaded = loadOrt();
  const v = loaded.ok ? loaded.version : '?';
  return `onnxruntime-node ${v} (${ortThreads()} intra-op thread${ortThreads() === 1 ? '' : 's'}) for ${ORT_KERNELS.join(', ')} of >= ${ortMinFlops().toExponential(0)} FLOPs; wasm for the rest`;
}

// ---------------------------------------------------------------------------------------------

interface Plan {
  /** Session cache key. */
  key: string;
  flops: number;
  build: () => OnnxGraph;
  inputs: TensorInfo[];
  outShape: number[];
}

type Args = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: tf.KernelBackend };

function dispatch(name: OrtKernelName, prev: tf.KernelConfig | undefined, args: Args): TensorInfo | TensorInfo[] {
  const plan = planFor(name, args);
  // No wasm kernel to fall back to (Conv2DBackpropFilter) or wasm's is a slow scalar loop
  // (Conv2DBackpropInput): every call it can express runs on onnxruntime.
  const mustRoute = !prev || name === 'Conv2DBackpropInput';
  if (plan && (mustRoute || plan.flops >= ortMinFlops())) {
    count(name, true);
    return execute(args.backend as unknown as WasmBackendLike, plan);
  }
  if (!prev) throw new Error(`${name} on wasm with onnxruntime: unsupported arguments (${describeArgs(args)})`);
  count(name, false);
  return prev.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

function describeArgs(args: Args): string {
  const shapes = Object.entries(args.inputs)
    .filter(([, t]) => t)
    .map(([k, t]) => `${k} ${t!.dtype}[${t!.shape.join(',')}]`);
  return [...shapes, JSON.stringify(args.attrs)].join(', ');
}

function execute(backend: WasmBackendLike, p: Plan): TensorInfo {
  const out = backend.makeOutput(p.outShape, 'float32');
  // Views are taken after makeOutput: its malloc may grow (and replace) the wasm heap buffer.
  const buffer = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const view = (t: TensorInfo) => ({ data: new Float32Array(buffer, backend.dataIdMap.get(t.dataId)!.memoryOffset, sizeOf(t.shape)), shape: t.shape });
  try {
    runOrt(p.key, p.build, p.inputs.map(view), view(out));
  } catch (e) {
    backend.disposeData(out.dataId);
    throw new Error(`onnxruntime ${p.key.split('|')[0]} failed: ${(e as Error).message}`);
  }
  return out;
}

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function planFor(name: OrtKernelName, args: Args): Plan | undefined {
  const ins = Object.values(args.inputs).filter((t): t is TensorInfo => !!t);
  if (ins.some((t) => t.dtype !== 'float32' || sizeOf(t.shape) === 0)) return undefined;
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D':
      return convPlan(name, args);
    case 'Conv2DBackpropInput':
      return convInputGradPlan(args);
    case 'Conv2DBackpropFilter':
      return convFilterGradPlan(args);
    case 'BatchMatMul':
    case '_FusedMatMul':
      return matMulPlan(name, args);
  }
}

// --- activations ----------------------------------------------------------------------------

/**
 * Append the fused activation (tfjs names) to a graph: returns the nodes/constants and whether it
 * is supported. prelu reads its slopes from input `preluInput`.
 */
function activation(
  act: string | undefined,
  from: string,
  to: string,
  alpha: number | undefined,
  preluInput: string | undefined,
): { nodes: OnnxNode[]; constants: OnnxConstant[] } | undefined {
  switch (act ?? 'linear') {
    case 'linear':
      return { nodes: [{ op: 'Identity', inputs: [from], outputs: [to] }], constants: [] };
    case 'relu':
      return { nodes: [{ op: 'Relu', inputs: [from], outputs: [to] }], constants: [] };
    case 'relu6':
      return {
        nodes: [{ op: 'Clip', inputs: [from, 'c_lo', 'c_hi'], outputs: [to] }],
        constants: [
          { name: 'c_lo', shape: [], type: ONNX_FLOAT, values: [0] },
          { name: 'c_hi', shape: [], type: ONNX_FLOAT, values: [6] },
        ],
      };
    case 'elu':
      return { nodes: [{ op: 'Elu', inputs: [from], outputs: [to], attrs: { alpha: { float: 1 } } }], constants: [] };
    case 'selu':
      return { nodes: [{ op: 'Selu', inputs: [from], outputs: [to] }], constants: [] };
    case 'sigmoid':
      return { nodes: [{ op: 'Sigmoid', inputs: [from], outputs: [to] }], constants: [] };
    case 'leakyrelu':
      return { nodes: [{ op: 'LeakyRelu', inputs: [from], outputs: [to], attrs: { alpha: { float: alpha ?? 0.2 } } }], constants: [] };
    case 'prelu':
      if (!preluInput) return undefined;
      return { nodes: [{ op: 'PRelu', inputs: [from, preluInput], outputs: [to] }], constants: [] };
    default:
      return undefined;
  }
}

/** Broadcastable to `target` with numpy rules (what ONNX Add/PRelu need). */
function broadcastsTo(shape: readonly number[], target: readonly number[]): boolean {
  if (shape.length > target.length) return false;
  const off = target.length - shape.length;
  return shape.every((d, i) => d === 1 || d === target[off + i]);
}

/**
 * Inputs after the main two for fused kernels: bias (Add) and activation; returns the extra
 * inputs, nodes and constants, or undefined when not expressible.
 */
function epilogue(
  args: Args,
  outShape: number[],
  from: string,
  firstExtra: number,
): { inputs: TensorInfo[]; nodes: OnnxNode[]; constants: OnnxConstant[]; key: string } | undefined {
  const { bias, preluActivationWeights } = args.inputs as { bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const a = args.attrs as { activation?: string; leakyreluAlpha?: number };
  const inputs: TensorInfo[] = [];
  const nodes: OnnxNode[] = [];
  let cur = from;
  let idx = firstExtra;
  if (bias) {
    if (!broadcastsTo(bias.shape, outShape)) return undefined;
    nodes.push({ op: 'Add', inputs: [cur, `i${idx}`], outputs: ['biased'] });
    inputs.push(bias);
    idx++;
    cur = 'biased';
  }
  let preluName: string | undefined;
  if (a.activation === 'prelu') {
    if (!preluActivationWeights || !broadcastsTo(preluActivationWeights.shape, outShape)) return undefined;
    preluName = `i${idx}`;
    inputs.push(preluActivationWeights);
  }
  const act = activation(a.activation, cur, 'y', a.leakyreluAlpha, preluName);
  if (!act) return undefined;
  nodes.push(...act.nodes);
  const key = `b${bias ? bias.shape.join('x') : '-'}|${a.activation ?? 'linear'}|${a.activation === 'leakyrelu' ? (a.leakyreluAlpha ?? 0.2) : ''}|p${preluActivationWeights && preluName ? preluActivationWeights.shape.join('x') : '-'}`;
  return { inputs, nodes, constants: act.constants, key };
}

// --- convolutions ---------------------------------------------------------------------------

interface ConvAttrs {
  strides: number | Pair;
  pad: 'same' | 'valid' | number | number[][];
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | Pair;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const NCHW = [0, 3, 1, 2];
const NHWC = [0, 2, 3, 1];
/** tfjs filter [KH, KW, C, O] -> ONNX [O, C, KH, KW]. */
const OIHW = [3, 2, 0, 1];

function convInfo(xShape: readonly number[], wShape: readonly number[], a: ConvAttrs, dilations: number | Pair = 1) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    wShape as [number, number, number, number],
    a.strides,
    dilations,
    a.pad as 'same',
    a.dimRoundingMode,
  );
}

/** The explicit pads reproduce tfjs's output size (they do except for exotic rounding modes). */
function padsMatch(info: tf.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  if (p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0) return false;
  const oh = Math.floor((info.inHeight + p.top + p.bottom - info.effectiveFilterHeight) / info.strideHeight) + 1;
  const ow = Math.floor((info.inWidth + p.left + p.right - info.effectiveFilterWidth) / info.strideWidth) + 1;
  return oh === info.outHeight && ow === info.outWidth;
}

function convPlan(name: 'Conv2D' | 'FusedConv2D', args: Args): Plan | undefined {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || x.shape.length !== 4) return undefined;
  const info = convInfo(x.shape, filter.shape, a, a.dilations ?? 1);
  if (!padsMatch(info)) return undefined;
  const outShape = [...info.outShape];
  const p = info.padInfo;
  const fused = name === 'FusedConv2D' ? epilogue(args, outShape, 'yn', 2) : undefined;
  if (name === 'FusedConv2D' && !fused) return undefined;
  const attrs = {
    kernel_shape: [info.filterHeight, info.filterWidth],
    pads: [p.top, p.left, p.bottom, p.right],
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
  };
  const method = convMethod;
  const key = `${name}|${x.shape.join('x')}|${filter.shape.join('x')}|${JSON.stringify(attrs)}|${fused?.key ?? ''}|${method}`;
  const common = {
    key,
    flops: 2 * sizeOf(outShape) * info.filterHeight * info.filterWidth * info.inChannels,
    inputs: [x, filter, ...(fused?.inputs ?? [])],
    outShape,
  };
  const graphInputs = () => [
    { name: 'i0', shape: x.shape },
    { name: 'i1', shape: filter.shape },
    ...(fused?.inputs ?? []).map((t, i) => ({ name: `i${i + 2}`, shape: t.shape })),
  ];
  if (method === 'patches') {
    return {
      ...common,
      build: () => {
        const g = patchesGraph('i0', x.shape, info);
        const k = info.filterHeight * info.filterWidth * info.inChannels;
        g.constants.push(
          { name: 'wshape', shape: [2], type: ONNX_INT64, values: [k, info.outChannels] },
          { name: 'yshape', shape: [4], type: ONNX_INT64, values: outShape },
        );
        g.nodes.push(
          { op: 'Reshape', inputs: ['i1', 'wshape'], outputs: ['wm'] },
          { op: 'Gemm', inputs: [g.output, 'wm'], outputs: ['ym'] },
          { op: 'Reshape', inputs: ['ym', 'yshape'], outputs: [fused ? 'yn' : 'y'] },
          ...(fused?.nodes ?? []),
        );
        return { inputs: graphInputs(), outputs: [{ name: 'y', shape: outShape }], nodes: g.nodes, constants: [...g.constants, ...(fused?.constants ?? [])] };
      },
    };
  }
  return {
    ...common,
    build: () => ({
      inputs: graphInputs(),
      outputs: [{ name: 'y', shape: outShape }],
      constants: fused?.constants,
      nodes: [
        { op: 'Transpose', inputs: ['i0'], outputs: ['xc'], attrs: { perm: NCHW } },
        { op: 'Transpose', inputs: ['i1'], outputs: ['wc'], attrs: { perm: OIHW } },
        { op: 'Conv', inputs: ['xc', 'wc'], outputs: ['yc'], attrs },
        { op: 'Transpose', inputs: ['yc'], outputs: [fused ? 'yn' : 'y'], attrs: { perm: NHWC } },
        ...(fused?.nodes ?? []),
      ],
    }),
  };
}

/**
 * How Conv2D / FusedConv2D run: 'conv' (default: ONNX Conv between NHWC<->NCHW transposes) or
 * 'patches' (the KH*KW strided windows side by side, [N*OH*OW, KH*KW*C], times the filter as one
 * Gemm, no transposes). Measured side by side (docs/performance.md), 'patches' was never faster.
 */
export type OrtConvMethod = 'conv' | 'patches';
let convMethod: OrtConvMethod = 'conv';

/** Choose the forward convolution formulation (benchmarks, tests). */
export function setOrtConvMethod(m: OrtConvMethod): void {
  convMethod = m;
}

/**
 * Nodes that turn NHWC input `src` into the [N*OH*OW, KH*KW*C] matrix of the conv's windows
 * (tap-major, channel-minor: the row order of a [KH, KW, C, O] filter): Pad, one strided Slice
 * per tap, Concat, Reshape. Rows the conv never reads are not sliced.
 */
function patchesGraph(
  src: string,
  xShape: readonly number[],
  info: tf.backend_util.Conv2DInfo,
): { nodes: OnnxNode[]; constants: OnnxConstant[]; output: string } {
  const [n, h, w, c] = xShape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: oh, outWidth: ow } = info;
  const p = info.padInfo;
  const nodes: OnnxNode[] = [];
  const constants: OnnxConstant[] = [];
  const int64 = (name: string, values: number[]) => constants.push({ name, shape: [values.length], type: ONNX_INT64, values });
  const bottom = (kh - 1) * dh + 1 + (oh - 1) * sh - h - p.top;
  const right = (kw - 1) * dw + 1 + (ow - 1) * sw - w - p.left;
  let from = src;
  if (p.top > 0 || p.left > 0 || bottom > 0 || right > 0) {
    int64('pads', [0, p.top, p.left, 0, 0, Math.max(0, bottom), Math.max(0, right), 0]);
    nodes.push({ op: 'Pad', inputs: [src, 'pads'], outputs: ['xp'] });
    from = 'xp';
  }
  int64('axes', [1, 2]);
  int64('steps', [sh, sw]);
  const cols: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      int64(`st${i}_${j}`, [i * dh, j * dw]);
      int64(`en${i}_${j}`, [i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1]);
      nodes.push({ op: 'Slice', inputs: [from, `st${i}_${j}`, `en${i}_${j}`, 'axes', 'steps'], outputs: [`s${i}_${j}`] });
      cols.push(`s${i}_${j}`);
    }
  }
  if (cols.length > 1) nodes.push({ op: 'Concat', inputs: cols, outputs: ['patches'], attrs: { axis: 3 } });
  int64('pshape', [n * oh * ow, kh * kw * c]);
  nodes.push({ op: 'Reshape', inputs: [cols.length > 1 ? 'patches' : cols[0], 'pshape'], outputs: ['pm'] });
  return { nodes, constants, output: 'pm' };
}

/** Conv2DBackpropInput (conv2dTranspose): ONNX ConvTranspose with the conv's pads. */
function convInputGradPlan(args: Args): Plan | undefined {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || dy.shape.length !== 4) return undefined;
  const info = convInfo(a.inputShape, filter.shape, a);
  if (!padsMatch(info) || info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2]) return undefined;
  const p = info.padInfo;
  const opH = info.inHeight - (info.strideHeight * (info.outHeight - 1) + info.filterHeight - p.top - p.bottom);
  const opW = info.inWidth - (info.strideWidth * (info.outWidth - 1) + info.filterWidth - p.left - p.right);
  if (opH < 0 || opW < 0 || opH >= info.strideHeight || opW >= info.strideWidth) return undefined;
  const outShape = [...a.inputShape];
  const attrs = {
    kernel_shape: [info.filterHeight, info.filterWidth],
    pads: [p.top, p.left, p.bottom, p.right],
    strides: [info.strideHeight, info.strideWidth],
    output_padding: [opH, opW],
  };
  return {
    key: `Conv2DBackpropInput|${dy.shape.join('x')}|${filter.shape.join('x')}|${outShape.join('x')}|${JSON.stringify(attrs)}`,
    flops: 2 * sizeOf(dy.shape) * info.filterHeight * info.filterWidth * info.inChannels,
    inputs: [dy, filter],
    outShape,
    build: () => ({
      inputs: [
        { name: 'i0', shape: dy.shape },
        { name: 'i1', shape: filter.shape },
      ],
      outputs: [{ name: 'y', shape: outShape }],
      nodes: [
        { op: 'Transpose', inputs: ['i0'], outputs: ['dyc'], attrs: { perm: NCHW } },
        // ConvTranspose's filter is [in = O, out = C, KH, KW]: the same permutation as Conv's.
        { op: 'Transpose', inputs: ['i1'], outputs: ['wc'], attrs: { perm: OIHW } },
        { op: 'ConvTranspose', inputs: ['dyc', 'wc'], outputs: ['dxc'], attrs },
        { op: 'Transpose', inputs: ['dxc'], outputs: ['y'], attrs: { perm: NHWC } },
      ],
    }),
  };
}

/**
 * Conv2DBackpropFilter, two formulations (setOrtFilterGradMethod). 'conv' (default): one Conv in
 * which batch and channels swap roles (x as [C, N, H, W] images, dy as an [O, N, OH, OW] filter
 * dilated by the stride), cropped to [KH, KW] and transposed to [KH, KW, C, O]. 'patches': the
 * KH*KW strided windows of the padded input side by side ([N*OH*OW, KH*KW*C], Slice + Concat in
 * NHWC) times dy ([N*OH*OW, O]) through Gemm with transA. Measured side by side
 * (docs/performance.md), 'conv' was as fast or faster.
 */
function convFilterGradPlan(args: Args): Plan | undefined {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || x.shape.length !== 4) return undefined;
  const info = convInfo(x.shape, a.filterShape, a);
  if (!padsMatch(info) || info.outHeight !== dy.shape[1] || info.outWidth !== dy.shape[2] || info.outChannels !== dy.shape[3]) return undefined;
  const [n, h, w, c] = x.shape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, outChannels: o } = info;
  const p = info.padInfo;
  // Rows [-top, -top + spanH) of the input are read; pad (or crop) to exactly that span.
  const spanH = kh + (oh - 1) * sh;
  const spanW = kw + (ow - 1) * sw;
  const bottom = spanH - h - p.top;
  const right = spanW - w - p.left;
  const outShape = [...a.filterShape];
  const rows = n * oh * ow;
  const key = `Conv2DBackpropFilter|${x.shape.join('x')}|${dy.shape.join('x')}|${outShape.join('x')}|${sh},${sw}|${p.top},${p.left},${bottom},${right}`;
  if (filterGradMethod === 'conv') {
    return {
      key: `${key}|conv`,
      flops: 2 * rows * kh * kw * c * o,
      inputs: [x, dy],
      outShape,
      build: () => {
        // x as [C, N, H, W] images, dy as an [O, N, OH, OW] filter dilated by the stride.
        const fullH = h + p.top + Math.max(0, bottom) - (oh - 1) * sh;
        const fullW = w + p.left + Math.max(0, right) - (ow - 1) * sw;
        const crop = fullH !== kh || fullW !== kw;
        const constants: OnnxConstant[] = crop
          ? [
              { name: 'cs', shape: [2], type: ONNX_INT64, values: [0, 0] },
              { name: 'ce', shape: [2], type: ONNX_INT64, values: [kh, kw] },
              { name: 'ca', shape: [2], type: ONNX_INT64, values: [2, 3] },
            ]
          : [];
        return {
          inputs: [
            { name: 'i0', shape: x.shape },
            { name: 'i1', shape: dy.shape },
          ],
          outputs: [{ name: 'y', shape: outShape }],
          constants,
          nodes: <OnnxNode[]>[
            { op: 'Transpose', inputs: ['i0'], outputs: ['xc'], attrs: { perm: [3, 0, 1, 2] } },
            { op: 'Transpose', inputs: ['i1'], outputs: ['dc'], attrs: { perm: [3, 0, 1, 2] } },
            {
              op: 'Conv',
              inputs: ['xc', 'dc'],
              outputs: ['gc'],
              attrs: { kernel_shape: [oh, ow], pads: [p.top, p.left, Math.max(0, bottom), Math.max(0, right)], strides: [1, 1], dilations: [sh, sw] },
            },
            ...(crop ? [{ op: 'Slice', inputs: ['gc', 'cs', 'ce', 'ca'], outputs: ['gk'] }] : []),
            { op: 'Transpose', inputs: [crop ? 'gk' : 'gc'], outputs: ['y'], attrs: { perm: [2, 3, 0, 1] } },
          ],
        };
      },
    };
  }
  return {
    key,
    flops: 2 * rows * kh * kw * c * o,
    inputs: [x, dy],
    outShape,
    build: () => {
      const g = patchesGraph('i0', x.shape, info);
      g.constants.push({ name: 'dshape', shape: [2], type: ONNX_INT64, values: [rows, o] }, { name: 'wshape', shape: [4], type: ONNX_INT64, values: outShape });
      g.nodes.push(
        { op: 'Reshape', inputs: ['i1', 'dshape'], outputs: ['dm'] },
        { op: 'Gemm', inputs: [g.output, 'dm'], outputs: ['g'], attrs: { transA: 1 } },
        { op: 'Reshape', inputs: ['g', 'wshape'], outputs: ['y'] },
      );
      return {
        inputs: [
          { name: 'i0', shape: x.shape },
          { name: 'i1', shape: dy.shape },
        ],
        outputs: [{ name: 'y', shape: outShape }],
        nodes: g.nodes,
        constants: g.constants,
      };
    },
  };
}

/** How Conv2DBackpropFilter is expressed: 'conv' (default, measured as fast or faster) or 'patches'. */
export type OrtFilterGradMethod = 'patches' | 'conv';
let filterGradMethod: OrtFilterGradMethod = 'conv';

/** Choose the Conv2DBackpropFilter formulation (benchmarks, tests). */
export function setOrtFilterGradMethod(m: OrtFilterGradMethod): void {
  filterGradMethod = m;
}

// --- matrix products ------------------------------------------------------------------------

function matMulPlan(name: 'BatchMatMul' | '_FusedMatMul', args: Args): Plan | undefined {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const nn = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) return undefined;
  let batch: number[];
  try {
    batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  const outShape = [...batch, m, nn];
  const fused = name === '_FusedMatMul' ? epilogue(args, outShape, 'yn', 2) : undefined;
  if (name === '_FusedMatMul' && !fused) return undefined;
  const key = `${name}|${a.shape.join('x')}|${b.shape.join('x')}|${+transposeA}${+transposeB}|${fused?.key ?? ''}`;
  const target = fused ? 'yn' : 'y';
  const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  return {
    key,
    flops: 2 * sizeOf(batch) * m * nn * k,
    inputs: [a, b, ...(fused?.inputs ?? [])],
    outShape,
    build: () => {
      const nodes: OnnxNode[] = [];
      if (ra === 2 && rb === 2) {
        nodes.push({ op: 'Gemm', inputs: ['i0', 'i1'], outputs: [target], attrs: { transA: +transposeA, transB: +transposeB } });
      } else {
        if (transposeA) nodes.push({ op: 'Transpose', inputs: ['i0'], outputs: ['at'], attrs: { perm: swap(ra) } });
        if (transposeB) nodes.push({ op: 'Transpose', inputs: ['i1'], outputs: ['bt'], attrs: { perm: swap(rb) } });
        nodes.push({ op: 'MatMul', inputs: [transposeA ? 'at' : 'i0', transposeB ? 'bt' : 'i1'], outputs: [target] });
      }
      nodes.push(...(fused?.nodes ?? []));
      return {
        inputs: [
          { name: 'i0', shape: a.shape },
          { name: 'i1', shape: b.shape },
          ...(fused?.inputs ?? []).map((t, i) => ({ name: `i${i + 2}`, shape: t.shape })),
        ],
        outputs: [{ name: 'y', shape: outShape }],
        constants: fused?.constants,
        nodes,
      };
    },
  };
}
