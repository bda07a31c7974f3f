import { onnx } from 'onnx-proto';
import { ConfigError, ModelFormatError, Network, explicitPadding, writeFileAtomic } from '@certkd/core';
import type { Conv2DLayer } from '@certkd/core';
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

  const layers = net.layers;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  let cur = 'input';
  let seq = 0;
  const fresh = (base: string) => `${base}_${seq++}`;
  const emit = (opType: string, name: string, inputs: string[], attrs: onnx.IAttributeProto[] = []) => {
    const out = fresh(`${name}_out`);
    nodes.push({ opType, name, input: inputs, output: [out], attribute: attrs });
    cur = out;
  };
  // IR flat index -> ONNX flat index of the activation after a Flatten (null: identity).
  let flatPerm: Int32Array | null = null;
  let pending: PendingNorm | null = null;
  const consumed = new Set<number>();

  for (let i = 0; i < layers.length; i++) {
    if (consumed.has(i)) continue;
    const layer = layers[i];
    const inShape = net.shapes[i];
    const isImage = inShape.length === 3;
    if (pending && layer.kind !== 'flatten' && layer.kind !== 'tap' && layer.kind !== 'conv2d' && layer.kind !== 'dense' && layer.kind !== 'normalize') {
      throw new ConfigError(
        `foldNormalize: the normalize layer ${pending.layer} is followed by layer ${i} (${layer.kind}) before any conv/dense layer, so it cannot be folded; export without foldNormalize`,
        undefined,
        'foldNormalize',
      );
    }
    switch (layer.kind) {
      case 'tap':
        break;
      case 'normalize': {
        const size = inShape.reduce((a, b) => a * b, 1);
        const c = inShape[inShape.length - 1];
        const at = (arr: number[], k: number) => (arr.length === 1 ? arr[0] : arr[k % c]);
        if (opts.foldNormalize) {
          // Compose with an earlier pending normalisation: ((x - m1)/s1 - m2)/s2.
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
          pending = { mean, std, layer: i };
        } else {
          const dims = isImage ? [1, layer.mean.length, 1, 1] : [1, layer.mean.length];
          const meanName = `layers.${i}.mean`;
          const stdName = `layers.${i}.std`;
          inits.push(floatTensor(meanName, dims, layer.mean), floatTensor(stdName, dims, layer.std));
          emit('Sub', `layers.${i}.Sub`, [cur, meanName]);
          emit('Div', `layers.${i}.Div`, [cur, stdName]);
        }
        break;
      }
      case 'conv2d':
      case 'dense': {
        const kernel = net.param(i, 'kernel').dataSync();
        const units = layer.kind === 'conv2d' ? layer.filters : layer.units;
        const bias = new Float64Array(units);
        if (layer.useBias) bias.set(net.param(i, 'bias').dataSync());
        // kernel in IR layout: conv [kh, kw, cin, cout], dense [din, units]; output unit fastest.
        const w = Float64Array.from(kernel);
        const fanIn = w.length / units;
        if (pending) {
          foldNormalizeInto(layer.kind === 'conv2d' ? (layer as Conv2DLayer) : null, inShape, pending, w, bias, units, i);
          pending = null;
        }
        let next = i + 1;
        while (next < layers.length && layers[next].kind === 'tap') next++;
        if (next < layers.length && layers[next].kind === 'batchnorm') {
          const { scale, shift } = bnScaleShift(net, next);
          for (let k = 0; k < w.length; k++) w[k] *= scale[k % units];
          for (let u = 0; u < units; u++) bias[u] = bias[u] * scale[u] + shift[u];
          consumed.add(next);
        }
        const wName = `layers.${i}.weight`;
        const bName = `layers.${i}.bias`;
        inits.push(floatTensor(bName, [units], bias));
        if (layer.kind === 'conv2d') {
          const [kh, kw] = layer.kernelSize;
          const cin = inShape[2];
          const wo = new Float64Array(w.length);
          // [kh, kw, cin, cout] -> [cout, cin, kh, kw]
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++)
              for (let c = 0; c < cin; c++)
                for (let m = 0; m < units; m++) wo[((m * cin + c) * kh + y) * kw + x] = w[((y * kw + x) * cin + c) * units + m];
          inits.push(floatTensor(wName, [units, cin, kh, kw], wo));
          const p = explicitPadding(layer, inShape);
          emit('Conv', `layers.${i}.Conv`, [cur, wName, bName], [
            intsAttr('kernel_shape', [kh, kw]),
            intsAttr('strides', [layer.strides[0], layer.strides[1]]),
            intsAttr('pads', [p[0][0], p[1][0], p[0][1], p[1][1]]),
            intsAttr('dilations', [1, 1]),
            intAttr('group', 1),
          ]);
        } else {
          // Gemm with transB = 1: B[u, onnxIndex(k)] = kernel[k, u].
          const wo = new Float64Array(w.length);
          for (let k = 0; k < fanIn; k++) {
            const o = flatPerm ? flatPerm[k] : k;
            for (let u = 0; u < units; u++) wo[u * fanIn + o] = w[k * units + u];
          }
          inits.push(floatTensor(wName, [units, fanIn], wo));
          emit('Gemm', `layers.${i}.Gemm`, [cur, wName, bName], [floatAttr('alpha', 1), floatAttr('beta', 1), intAttr('transB', 1)]);
          flatPerm = null;
        }
        break;
      }
      case 'batchnorm': {
        // Not preceded by a conv/dense layer: keep it as an inference-mode BatchNormalization.
        const names = ['gamma', 'beta', 'movingMean', 'movingVariance'].map((p) => {
          const n = `layers.${i}.${p}`;
          const v = net.param(i, p);
          inits.push(floatTensor(n, [v.size], v.dataSync()));
          return n;
        });
        if (!isImage && flatPerm) throw new ConfigError(`layer ${i} (batchnorm) after a flatten of an image cannot be exported`);
        emit('BatchNormalization', `layers.${i}.BatchNormalization`, [cur, ...names], [floatAttr('epsilon', layer.epsilon), floatAttr('momentum', layer.momentum)]);
        break;
      }
      case 'relu':
        emit('Relu', `layers.${i}.Relu`, [cur]);
        break;
      case 'flatten': {
        if (!isImage) break;
        const [h, w, c] = inShape;
        flatPerm = new Int32Array(h * w * c);
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) flatPerm[(y * w + x) * c + ch] = (ch * h + y) * w + x;
        // Kept for the next dense layer; a pending normalisation stays in NHWC order, as the fold expects.
        if (isIdentity(flatPerm)) flatPerm = null;
        emit('Flatten', `layers.${i}.Flatten`, [cur], [intAttr('axis', 1)]);
        break;
      }
      case 'avgpool':
        emit('AveragePool', `layers.${i}.AveragePool`, [cur], [
          intsAttr('kernel_shape', [layer.poolSize[0], layer.poolSize[1]]),
          intsAttr('strides', [layer.strides[0], layer.strides[1]]),
        ]);
        break;
    }
  }
  if (pending) {
    throw new ConfigError(`foldNormalize: normalize layer ${pending.layer} has no conv/dense layer after it to fold into`, undefined, 'foldNormalize');
  }
  for (const t of inits) {
    // As written: float32, so values beyond its range (e.g. from a folded BatchNorm) show up as Inf here.
    const values = new Float32Array(t.rawData!.slice().buffer);
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw new ModelFormatError(`initializer '${t.name}' would hold ${values[bad]} at index ${bad}; refusing to export a network whose weights are not finite`);
    }
  }
  if (nodes.length === 0) emit('Identity', 'identity', [cur]);
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
