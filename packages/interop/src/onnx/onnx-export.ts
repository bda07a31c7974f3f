import { onnx } from 'onnx-proto';
import { ConfigError, ModelFormatError, Network, explicitPadding, writeFileAtomic } from '@certkd/core';
import type { Conv2DLayer, DenseLayer, LayerKind, LayerSpec } from '@certkd/core';
import { firstNonFinite, floatTensor } from './tensor-data';

export interface OnnxExportOptions {
  /** Batch dimension of the graph input and output: fixed 1 (VNN-COMP style, default) or symbolic. */
  batch?: 1 | 'dynamic';
  /** Operator set version (default 13; 9..21 are accepted). */
  opset?: number;
  /**
   * Fold Normalize layers into the following conv/dense layer instead of emitting Sub/Div.
   * Exact only where no zero padding or non-linear layer sits in between; otherwise a
   * ConfigError says which layer prevents it.
   */
  foldNormalize?: boolean;
}

export const DEFAULT_OPSET = 13;
const MIN_OPSET = 9;
const MAX_OPSET = 21;

/** IR version that goes with each opset (the onnx release that introduced the opset). */
function irVersionFor(opset: number): number {
  if (opset <= 9) return 4;
  if (opset === 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

interface PendingNorm {
  /** Per-element mean and std in the IR's flat (NHWC) order of the normalised activation. */
  mean: Float64Array;
  std: Float64Array;
  /** Layer index of the normalize layer, for messages. */
  layer: number;
}

const A = onnx.AttributeProto.AttributeType;
const intsAttr = (name: string, ints: number[]): onnx.IAttributeProto => ({ name, type: A.INTS, ints });
const intAttr = (name: string, i: number): onnx.IAttributeProto => ({ name, type: A.INT, i });
const floatAttr = (name: string, f: number): onnx.IAttributeProto => ({ name, type: A.FLOAT, f });

/**
 * Serialise a network as an ONNX model in inference form; a ModelFormatError refuses
 * weights that are (or, after folding, become) NaN or Inf. The graph is NCHW-native like a
 * PyTorch export: input [N, C, H, W] (or [N, D] for vector inputs), dense weights after a
 * Flatten permuted to channel-major order, BatchNorm (running statistics) folded into the
 * preceding conv/dense layer. Input values are in the network's input space (pixel space
 * when the network starts with a Normalize layer).
 */
export function exportOnnx(net: Network, opts: OnnxExportOptions = {}): Uint8Array {
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ConfigError(`opset ${opset} is not supported; use an integer in ${MIN_OPSET}..${MAX_OPSET}`, undefined, 'opset');
  }
  const batch = opts.batch ?? 1;
  if (batch !== 1 && batch !== 'dynamic') throw new ConfigError(`batch must be 1 or 'dynamic', got ${String(batch)}`, undefined, 'batch');

  const st = new ExportState(net, opts);
  const layers = net.layers;
  for (let i = 0; i < layers.length; i++) {
    if (st.consumed.has(i)) continue;
    const layer = layers[i];
    const mapping = LAYER_EXPORTS[layer.kind] as LayerExport<LayerSpec>;
    if (st.pending && !mapping.keepsPendingNormalize) {
      throw new ConfigError(
        `foldNormalize: the normalize layer ${st.pending.layer} is followed by layer ${i} (${layer.kind}) before any conv/dense layer, so it cannot be folded; export without foldNormalize`,
        undefined,
        'foldNormalize',
      );
    }
    mapping.export(layer, i, st);
  }
  const { nodes, inits, pending } = st;
  if (pending) {
    throw new ConfigError(`foldNormalize: normalize layer ${pending.layer} has no conv/dense layer after it to fold into`, undefined, 'foldNormalize');
  }
  for (const t of inits) {
    // As written: float32, so values beyond its range (e.g. from a folded BatchNorm) show up as Inf here.
    const values = new Float32Array(t.rawData!.slice().buffer);
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw new ModelFormatError(
        `initializer '${t.name}' would hold ${values[bad]} at index ${bad}; refusing to export a network whose weights are not finite`,
      );
    }
  }
  if (nodes.length === 0) st.emit('Identity', 'identity', [st.cur]);
  nodes[nodes.length - 1].output = ['output'];

  const batchDim: onnx.TensorShapeProto.IDimension = batch === 1 ? { dimValue: 1 } : { dimParam: 'batch' };
  const onnxShape = (s: number[]) => (s.length === 3 ? [s[2], s[0], s[1]] : s);
  const valueInfo = (name: string, s: number[]): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [batchDim, ...onnxShape(s).map((d) => ({ dimValue: d }))] } } },
  });
  const model: onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'certkd',
    graph: {
      name: 'certkd',
      node: nodes,
      initializer: inits,
      input: [valueInfo('input', net.inputShape)],
      output: [valueInfo('output', net.outputShape)],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Write `exportOnnx(net, opts)` to a file atomically. */
export function saveOnnx(net: Network, file: string, opts: OnnxExportOptions = {}): void {
  const bytes = exportOnnx(net, opts);
  writeFileAtomic(file, bytes);
}

function bnScaleShift(net: Network, i: number): { scale: Float64Array; shift: Float64Array } {
  const layer = net.layers[i];
  if (layer.kind !== 'batchnorm') throw new Error(`layer ${i} is not batchnorm`);
  const g = net.param(i, 'gamma').dataSync();
  const b = net.param(i, 'beta').dataSync();
  const m = net.param(i, 'movingMean').dataSync();
  const v = net.param(i, 'movingVariance').dataSync();
  const scale = new Float64Array(g.length);
  const shift = new Float64Array(g.length);
  for (let c = 0; c < g.length; c++) {
    scale[c] = g[c] / Math.sqrt(v[c] + layer.epsilon);
    shift[c] = b[c] - m[c] * scale[c];
  }
  return { scale, shift };
}

/** W((x - m)/s) + b = (W/s) x + (b - W (m/s)), in place on the IR-layout kernel and bias. */
function foldNormalizeInto(conv: Conv2DLayer | null, inShape: number[], p: PendingNorm, w: Float64Array, bias: Float64Array, units: number, i: number): void {
  if (conv) {
    const pad = explicitPadding(conv, inShape);
    if (pad.flat().some((v) => v !== 0)) {
      throw new ConfigError(
        `foldNormalize: conv layer ${i} pads its input with zeros, so normalize layer ${p.layer} cannot be folded into it exactly; export without foldNormalize`,
        undefined,
        'foldNormalize',
      );
    }
    const cin = inShape[2];
    // Per-channel values: the pending arrays hold [H, W, C] elements; channel c is at index c.
    for (let k = 0; k < w.length; k++) {
      const c = Math.floor(k / units) % cin;
      const u = k % units;
      const s = p.std[c];
      bias[u] -= (w[k] * p.mean[c]) / s;
      w[k] /= s;
    }
  } else {
    for (let k = 0; k < w.length; k++) {
      const row = Math.floor(k / units);
      const u = k % units;
      const s = p.std[row];
      bias[u] -= (w[k] * p.mean[row]) / s;
      w[k] /= s;
    }
  }
}

function isIdentity(p: Int32Array): boolean {
  for (let k = 0; k < p.length; k++) if (p[k] !== k) return false;
  return true;
}

/** The graph being written and what one layer's mapping hands to the next. */
class ExportState {
  readonly nodes: onnx.INodeProto[] = [];
  readonly inits: onnx.ITensorProto[] = [];
  /** Name of the current activation. */
  cur = 'input';
  private seq = 0;
  /** IR flat index -> ONNX flat index of the activation after a Flatten (null: identity). */
  flatPerm: Int32Array | null = null;
  /** A normalisation waiting to be folded into the next conv/dense layer (foldNormalize). */
  pending: PendingNorm | null = null;
  /** Layers already written by an earlier one's mapping (a BatchNorm folded into its conv/dense layer). */
  readonly consumed = new Set<number>();

  constructor(
    readonly net: Network,
    readonly opts: OnnxExportOptions,
  ) {}

  emit(opType: string, name: string, inputs: string[], attrs: onnx.IAttributeProto[] = []): void {
    const out = `${name}_out_${this.seq++}`;
    this.nodes.push({ opType, name, input: inputs, output: [out], attribute: attrs });
    this.cur = out;
  }
}

/** How one layer kind is written as ONNX nodes and initializers. */
interface LayerExport<L extends LayerSpec> {
  /** Whether a pending foldNormalize normalisation may pass this layer (it is folded into a later conv/dense layer). */
  keepsPendingNormalize?: boolean;
  export(layer: L, i: number, st: ExportState): void;
}

type LayerExports = { [K in LayerKind]: LayerExport<Extract<LayerSpec, { kind: K }>> };

/** W x + b as a Conv or Gemm node, with a following BatchNorm and a pending normalisation folded in. */
function exportLinear(layer: Conv2DLayer | DenseLayer, i: number, st: ExportState): void {
  const { net } = st;
  const layers = net.layers;
  const inShape = net.shapes[i];
  const kernel = net.param(i, 'kernel').dataSync();
  const units = layer.kind === 'conv2d' ? layer.filters : layer.units;
  const bias = new Float64Array(units);
  if (layer.useBias) bias.set(net.param(i, 'bias').dataSync());
  // kernel in IR layout: conv [kh, kw, cin, cout], dense [din, units]; output unit fastest.
  const w = Float64Array.from(kernel);
  const fanIn = w.length / units;
  if (st.pending) {
    foldNormalizeInto(layer.kind === 'conv2d' ? layer : null, inShape, st.pending, w, bias, units, i);
    st.pending = null;
  }
  let next = i + 1;
  while (next < layers.length && layers[next].kind === 'tap') next++;
  if (next < layers.length && layers[next].kind === 'batchnorm') {
    const { scale, shift } = bnScaleShift(net, next);
    for (let k = 0; k < w.length; k++) w[k] *= scale[k % units];
    for (let u = 0; u < units; u++) bias[u] = bias[u] * scale[u] + shift[u];
    st.consumed.add(next);
  }
  const wName = `layers.${i}.weight`;
  const bName = `layers.${i}.bias`;
  st.inits.push(floatTensor(bName, [units], bias));
  if (layer.kind === 'conv2d') {
    const [kh, kw] = layer.kernelSize;
    const cin = inShape[2];
    const wo = new Float64Array(w.length);
    // [kh, kw, cin, cout] -> [cout, cin, kh, kw]
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let c = 0; c < cin; c++) for (let m = 0; m < units; m++) wo[((m * cin + c) * kh + y) * kw + x] = w[((y * kw + x) * cin + c) * units + m];
    st.inits.push(floatTensor(wName, [units, cin, kh, kw], wo));
    const p = explicitPadding(layer, inShape);
    st.emit(
      'Conv',
      `layers.${i}.Conv`,
      [st.cur, wName, bName],
      [
        intsAttr('kernel_shape', [kh, kw]),
        intsAttr('strides', [layer.strides[0], layer.strides[1]]),
        intsAttr('pads', [p[0][0], p[1][0], p[0][1], p[1][1]]),
        intsAttr('dilations', [1, 1]),
        intAttr('group', 1),
      ],
    );
  } else {
    // Gemm with transB = 1: B[u, onnxIndex(k)] = kernel[k, u].
    const wo = new Float64Array(w.length);
    for (let k = 0; k < fanIn; k++) {
      const o = st.flatPerm ? st.flatPerm[k] : k;
      for (let u = 0; u < units; u++) wo[u * fanIn + o] = w[k * units + u];
    }
    st.inits.push(floatTensor(wName, [units, fanIn], wo));
    st.emit('Gemm', `layers.${i}.Gemm`, [st.cur, wName, bName], [floatAttr('alpha', 1), floatAttr('beta', 1), intAttr('transB', 1)]);
    st.flatPerm = null;
  }
}

/**
 * The ONNX mapping of every layer kind, one entry each (the import direction is the op table
 * of onnx-ops.ts). A mapped type, so a new layer kind in core's table fails to compile here
 * until it has an entry.
 */
const LAYER_EXPORTS: LayerExports = {
  tap: { keepsPendingNormalize: true, export: () => undefined },
  normalize: {
    keepsPendingNormalize: true,
    export(layer, i, st) {
      const inShape = st.net.shapes[i];
      const size = inShape.reduce((a, b) => a * b, 1);
      const c = inShape[inShape.length - 1];
      const at = (arr: number[], k: number) => (arr.length === 1 ? arr[0] : arr[k % c]);
      if (st.opts.foldNormalize) {
        // Compose with an earlier pending normalisation: ((x - m1)/s1 - m2)/s2.
        const pending = st.pending;
        const mean = new Float64Array(size);
        const std = new Float64Array(size);
        for (let k = 0; k < size; k++) {
          const m2 = at(layer.mean, k);
          const s2 = at(layer.std, k);
          const m1 = pending ? pending.mean[k] : 0;
          const s1 = pending ? pending.std[k] : 1;
          mean[k] = m1 + m2 * s1;
          std[k] = s1 * s2;
        }
        st.pending = { mean, std, layer: i };
      } else {
        const dims = inShape.length === 3 ? [1, layer.mean.length, 1, 1] : [1, layer.mean.length];
        const meanName = `layers.${i}.mean`;
        const stdName = `layers.${i}.std`;
        st.inits.push(floatTensor(meanName, dims, layer.mean), floatTensor(stdName, dims, layer.std));
        st.emit('Sub', `layers.${i}.Sub`, [st.cur, meanName]);
        st.emit('Div', `layers.${i}.Div`, [st.cur, stdName]);
      }
    },
  },
  conv2d: { keepsPendingNormalize: true, export: exportLinear },
  dense: { keepsPendingNormalize: true, export: exportLinear },
  batchnorm: {
    // Not preceded by a conv/dense layer: kept as an inference-mode BatchNormalization.
    export(layer, i, st) {
      const names = ['gamma', 'beta', 'movingMean', 'movingVariance'].map((p) => {
        const n = `layers.${i}.${p}`;
        const v = st.net.param(i, p);
        st.inits.push(floatTensor(n, [v.size], v.dataSync()));
        return n;
      });
      if (st.net.shapes[i].length !== 3 && st.flatPerm) throw new ConfigError(`layer ${i} (batchnorm) after a flatten of an image cannot be exported`);
      st.emit(
        'BatchNormalization',
        `layers.${i}.BatchNormalization`,
        [st.cur, ...names],
        [floatAttr('epsilon', layer.epsilon), floatAttr('momentum', layer.momentum)],
      );
    },
  },
  relu: { export: (_layer, i, st) => st.emit('Relu', `layers.${i}.Relu`, [st.cur]) },
  flatten: {
    keepsPendingNormalize: true,
    export(_layer, i, st) {
      const inShape = st.net.shapes[i];
      if (inShape.length !== 3) return;
      const [h, w, c] = inShape;
      const perm = new Int32Array(h * w * c);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) perm[(y * w + x) * c + ch] = (ch * h + y) * w + x;
      // Kept for the next dense layer; a pending normalisation stays in NHWC order, as the fold expects.
      st.flatPerm = isIdentity(perm) ? null : perm;
      st.emit('Flatten', `layers.${i}.Flatten`, [st.cur], [intAttr('axis', 1)]);
    },
  },
  avgpool: {
    export: (layer, i, st) =>
      st.emit(
        'AveragePool',
        `layers.${i}.AveragePool`,
        [st.cur],
        [intsAttr('kernel_shape', [layer.poolSize[0], layer.poolSize[1]]), intsAttr('strides', [layer.strides[0], layer.strides[1]])],
      ),
  },
};
