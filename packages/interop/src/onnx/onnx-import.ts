import * as fs from 'fs';
import { onnx } from 'onnx-proto';
import * as tf from '@tensorflow/tfjs-core';
import { CertkdError, ModelFormatError, Network, outputShape, paramKey } from '@certkd/core';
import type { LayerSpec, NetworkSpec, Padding } from '@certkd/core';
import { ConstTensor, IntLike, decodeTensor, firstNonFinite, toNumber } from './tensor-data';
import { CHAIN_OPS, MULTI_OUTPUT_OPS, SUPPORTED_OPS_TEXT, unsupportedOps, type OpImporter } from './onnx-ops';

/** How the ONNX graph input relates to the imported network's (NHWC) input. */
export interface OnnxInputInfo {
  /** Name of the graph input. */
  name: string;
  /** ONNX input shape including the batch dimension (-1 where it is symbolic). */
  onnxShape: number[];
  /**
   * nchw: ONNX [N, C, H, W], network [H, W, C]; nhwc: ONNX [N, H, W, C] (a Transpose follows);
   * flat: the network input is the ONNX input's elements in row-major order, [D].
   */
  layout: 'nchw' | 'nhwc' | 'flat';
}

export interface ImportedOnnx {
  network: Network;
  input: OnnxInputInfo;
  /** Name of the graph output. */
  outputName: string;
  opset: number;
  producer: string;
}

type Layout = { kind: 'image'; axes: number[] } | { kind: 'flat'; perm: Int32Array | null };

interface Act {
  name: string;
  /** ONNX shape without the batch dimension. */
  shape: number[];
  layout: Layout;
}

interface Param {
  shape: number[];
  data: Float32Array;
}

const NCHW_AXES = [2, 0, 1];
/**
 * Most elements an activation may have (16 Mi per example): a corrupt input shape or padding
 * must not make the importer loop over, or allocate, billions of elements.
 */
export const MAX_ACTIVATION_ELEMENTS = 2 ** 24;
/** Longest message text taken from a file (names in a corrupt file can be anything). */
const MAX_MESSAGE_CHARS = 1000;

/**
 * Make text that quotes names from the file safe for a one-line message: control characters
 * (newlines included) escaped, overlong text cut.
 */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > MAX_MESSAGE_CHARS ? `${safe.slice(0, MAX_MESSAGE_CHARS)}...` : safe;
}

const sameArr = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

/**
 * Import an ONNX feed-forward model (the ops CertKD exports plus what common exporters emit
 * for them) into the NHWC network IR. The network takes inputs in the same value space as the
 * ONNX model (any Sub/Div/Mul/Add normalisation becomes a Normalize layer); image inputs are
 * NHWC, so an NCHW model's input must be transposed ([N,C,H,W] -> [N,H,W,C]) before `predict`.
 * Throws ModelFormatError naming the node (index, name, op type) for anything malformed or
 * unsupported.
 */
export function importOnnx(bytes: Uint8Array, source = '<onnx>'): Network {
  return importOnnxModel(bytes, source).network;
}

/** Read and import an ONNX file (see importOnnx). */
export function loadOnnx(file: string): Network {
  return importOnnxModel(readModelFile(file), file).network;
}

/** Read and import an ONNX file, returning the network with input/output information. */
export function loadOnnxModel(file: string): ImportedOnnx {
  return importOnnxModel(readModelFile(file), file);
}

function readModelFile(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ModelFormatError(`cannot read the file: ${(e as Error).message}`, file);
  }
}

/** importOnnx, also returning how the ONNX input maps to the network input. */
export function importOnnxModel(bytes: Uint8Array, source = '<onnx>'): ImportedOnnx {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelFormatError(`not a valid ONNX protobuf (${oneLine((e as Error).message)}); the file may be truncated or not an ONNX model`, source);
  }
  try {
    return new GraphImporter(model, source).run();
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    if (e instanceof CertkdError || e instanceof Error) throw new ModelFormatError(oneLine(e.message), source);
    throw new ModelFormatError(oneLine(String(e)), source);
  }
}

/**
 * Reorder values given in the ONNX input's flat order (as VNN-LIB's X_i are) into the
 * network's NHWC flat order. Identity for flat and NHWC inputs.
 */
export function onnxToNetworkOrder(values: Float32Array, input: OnnxInputInfo): Float32Array {
  if (input.layout !== 'nchw') return values.slice();
  const [, c, h, w] = input.onnxShape;
  if (values.length !== c * h * w) throw new ModelFormatError(`expected ${c * h * w} input values for input '${input.name}', got ${values.length}`);
  const out = new Float32Array(values.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + ch] = values[(ch * h + y) * w + x];
  return out;
}

class GraphImporter implements OpImporter {
  private readonly consts = new Map<string, ConstTensor>();
  private readonly layers: LayerSpec[] = [];
  private readonly params = new Map<string, Param>();
  /** Names of activations that were current once and have been superseded. */
  private readonly stale = new Set<string>();
  private act!: Act;
  /** Index of the last layer if it is conv/dense and the activation is its direct output. */
  private lastLinear = -1;
  private ctx: string | undefined;

  constructor(
    private readonly model: onnx.ModelProto,
    private readonly source: string,
  ) {}

  fail(msg: string): never {
    throw new ModelFormatError(oneLine(msg), this.source, this.ctx === undefined ? undefined : oneLine(this.ctx));
  }

  run(): ImportedOnnx {
    const g = this.model.graph as onnx.GraphProto | null;
    if (!g) this.fail('the model has no graph');
    const opset = this.model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
    const opsetVersion = opset ? toNumber(opset.version as IntLike) : 0;
    for (const t of g.initializer) {
      let c: ConstTensor;
      try {
        c = decodeTensor(t);
      } catch (e) {
        this.fail(`initializer '${t.name}': ${(e as Error).message}`);
      }
      const bad = firstNonFinite(c.data);
      if (bad >= 0) this.fail(`initializer '${t.name}' holds ${c.data[bad]} at index ${bad}; weights must be finite`);
      this.consts.set(t.name ?? '', c);
    }
    const inputs = (g.input as onnx.ValueInfoProto[]).filter((v) => !this.consts.has(v.name));
    if (inputs.length !== 1)
      this.fail(`expected exactly one graph input (besides initializers), found ${inputs.length}: ${inputs.map((v) => v.name).join(', ')}`);
    if (g.output.length !== 1) this.fail(`expected exactly one graph output, found ${g.output.length}`);
    const nodes = g.node as onnx.NodeProto[];
    // Every unsupported op of the model at once, before mapping any node.
    const unsupported = unsupportedOps(nodes);
    if (unsupported) {
      this.ctx = unsupported.nodes;
      this.fail(unsupported.message);
    }
    const inputInfo = this.setupInput(inputs[0], nodes);
    const inputShape = this.irShape();

    nodes.forEach((node, idx) => {
      this.ctx = `#${idx}${node.name ? ` '${node.name}'` : ''} (${node.opType})`;
      this.visit(node);
    });
    this.ctx = undefined;
    const outName = g.output[0].name ?? '';
    if (this.consts.has(outName)) this.fail(`graph output '${outName}' is a constant, not computed from the input`);
    if (outName !== this.act.name) this.fail(`graph output '${outName}' is not the end of the layer chain (the chain ends at '${this.act.name}')`);
    if (this.act.layout.kind !== 'flat' || (this.act.layout.perm && !isIdentity(this.act.layout.perm))) {
      this.fail(`graph output '${outName}' is not a flat vector in the input's element order; only networks ending in a flat output are supported`);
    }
    const spec: NetworkSpec = { inputShape, layers: this.layers };
    const values = new Map<string, tf.Tensor>();
    for (const [k, p] of this.params) values.set(k, tf.tensor(p.data, p.shape, 'float32'));
    const network = Network.fromTensors(spec, values, this.source);
    return { network, input: inputInfo, outputName: outName, opset: opsetVersion, producer: this.model.producerName ?? '' };
  }

  private setupInput(v: onnx.ValueInfoProto, nodes: onnx.NodeProto[]): OnnxInputInfo {
    const tt = v.type?.tensorType;
    const name = v.name ?? '';
    this.ctx = `input '${name}'`;
    if (!tt || !tt.shape) this.fail('the graph input has no tensor type or shape');
    if (tt.elemType !== onnx.TensorProto.DataType.FLOAT)
      this.fail(`the graph input has element type ${onnx.TensorProto.DataType[tt.elemType ?? 0]}, expected FLOAT`);
    const dims = (tt.shape.dim ?? []).map((d) =>
      d.dimParam || d.dimValue === null || d.dimValue === undefined || toNumber(d.dimValue as IntLike) <= 0 ? -1 : toNumber(d.dimValue as IntLike),
    );
    if (dims.length < 2) this.fail(`the graph input has shape [${dims}]; expected a batch dimension and at least one more`);
    if (dims[0] !== 1 && dims[0] !== -1) this.fail(`the graph input's batch dimension is ${dims[0]}; expected 1 or symbolic`);
    const rest = dims.slice(1);
    if (rest.some((d) => d <= 0)) this.fail(`the graph input has shape [${dims}]; only the batch dimension may be symbolic`);
    if (prod(rest) > MAX_ACTIVATION_ELEMENTS)
      this.fail(`the graph input has shape [${dims}]: ${prod(rest)} elements per example, at most ${MAX_ACTIVATION_ELEMENTS} are supported`);
    let layout: OnnxInputInfo['layout'];
    if (rest.length === 3) {
      const first = nodes.find((n) => n.input.includes(name));
      const perm = first?.opType === 'Transpose' ? this.intsAttr(first, 'perm') : undefined;
      if (perm && sameArr(perm, [0, 3, 1, 2])) {
        layout = 'nhwc';
        this.act = { name, shape: rest, layout: { kind: 'image', axes: [0, 1, 2] } };
      } else {
        layout = 'nchw';
        this.act = { name, shape: rest, layout: { kind: 'image', axes: NCHW_AXES.slice() } };
      }
    } else {
      layout = 'flat';
      this.act = { name, shape: rest, layout: { kind: 'flat', perm: null } };
    }
    this.ctx = undefined;
    return { name, onnxShape: dims, layout };
  }

  /** The IR shape (without batch) of the current activation. */
  private irShape(): number[] {
    const a = this.act;
    if (a.layout.kind === 'flat') return [prod(a.shape)];
    const s = [0, 0, 0];
    a.layout.axes.forEach((irAxis, j) => (s[irAxis] = a.shape[j]));
    return s;
  }

  private setAct(name: string, shape: number[], layout: Layout): void {
    if (prod(shape) > MAX_ACTIVATION_ELEMENTS)
      this.fail(`the output [N, ${shape}] has more than ${MAX_ACTIVATION_ELEMENTS} elements per example, which is not supported`);
    this.stale.add(this.act.name);
    this.act = { name, shape, layout };
  }

  /** Append a layer; its parameters (computed from the node's constants) must be finite. */
  private push(layer: LayerSpec, params: Record<string, Param> = {}): number {
    for (const [k, p] of Object.entries(params)) {
      const bad = firstNonFinite(p.data);
      if (bad >= 0) this.fail(`the ${layer.kind} layer's ${k} would hold ${p.data[bad]} at index ${bad}; its parameters must be finite`);
    }
    const i = this.layers.length;
    this.layers.push(layer);
    for (const [k, p] of Object.entries(params)) this.params.set(paramKey(i, k), p);
    this.lastLinear = layer.kind === 'conv2d' || layer.kind === 'dense' ? i : -1;
    return i;
  }

  // ---- attributes ----
  private attr(node: onnx.NodeProto, name: string): onnx.IAttributeProto | undefined {
    return (node.attribute ?? []).find((a) => a.name === name);
  }
  private intsAttr(node: onnx.NodeProto, name: string): number[] | undefined {
    const a = this.attr(node, name);
    return a ? (a.ints ?? []).map((v) => toNumber(v as IntLike)) : undefined;
  }
  private intAttr(node: onnx.NodeProto, name: string, def: number): number {
    const a = this.attr(node, name);
    return a ? toNumber(a.i as IntLike) : def;
  }
  private floatAttr(node: onnx.NodeProto, name: string, def: number): number {
    const a = this.attr(node, name);
    return a ? (a.f ?? def) : def;
  }
  private stringAttr(node: onnx.NodeProto, name: string, def: string): string {
    const a = this.attr(node, name);
    return a && a.s ? Buffer.from(a.s).toString('utf8') : def;
  }
  private rejectAttrs(node: onnx.NodeProto, allowed: string[]): void {
    for (const a of node.attribute ?? []) {
      if (!allowed.includes(a.name ?? '')) this.fail(`attribute '${a.name}' is not supported`);
    }
  }

  private constInput(node: onnx.NodeProto, k: number, what: string): ConstTensor {
    const n = node.input[k];
    const c = n ? this.consts.get(n) : undefined;
    if (!c) this.fail(`${what} (input ${k}${n ? ` '${n}'` : ''}) must be a constant (initializer or Constant node)`);
    return c;
  }

  // ---- node dispatch ----
  private visit(node: onnx.NodeProto): void {
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx') this.fail(`operator domain '${node.domain}' is not supported`);
    if (op === 'Constant') return this.constantNode(node);
    const ins = node.input.filter((n) => n !== '');
    for (const n of ins) {
      if (this.stale.has(n)) this.fail(`input '${n}' is used after the layer chain moved on; only sequential (chain) graphs are supported`);
      if (n !== this.act.name && !this.consts.has(n)) this.fail(`input '${n}' is not produced by any earlier node, initializer or graph input`);
    }
    const dyn = node.input.map((n, k) => (n !== '' && n === this.act.name ? k : -1)).filter((k) => k >= 0);
    if (dyn.length === 0) return this.constantFold(node);
    if (dyn.length > 1) this.fail('the node uses the same activation twice; only chains with constant side inputs are supported');
    const outs = node.output.filter((n) => n !== '');
    if (outs.length !== 1 && !MULTI_OUTPUT_OPS.includes(op)) this.fail(`expected one output, found ${outs.length}`);
    const out = node.output[0];
    if (!out) this.fail('the node has no output');
    const handler = CHAIN_OPS[op];
    if (!handler) this.fail(`unsupported op type '${op}' (supported: ${SUPPORTED_OPS_TEXT})`);
    handler(this, node, dyn[0], out);
  }

  // ---- the OpImporter methods the op table (onnx-ops.ts) calls ----
  passThrough(out: string): void {
    this.setAct(out, this.act.shape, this.act.layout);
  }

  shapeOf(out: string, node: onnx.NodeProto): void {
    this.rejectAttrs(node, []);
    const dims = [1, ...this.act.shape];
    this.consts.set(out, { dims: [dims.length], data: Float64Array.from(dims), integer: true });
  }

  relu(out: string): void {
    this.push({ kind: 'relu' });
    this.setAct(out, this.act.shape, this.act.layout);
  }

  private constantNode(node: onnx.NodeProto): void {
    const out = node.output[0];
    if (!out) this.fail('the node has no output');
    const a = (node.attribute ?? [])[0];
    if (!a || (node.attribute ?? []).length !== 1) this.fail('a Constant node needs exactly one value attribute');
    let t: ConstTensor;
    try {
      switch (a.name) {
        case 'value':
          if (!a.t) this.fail("attribute 'value' holds no tensor");
          t = decodeTensor(a.t);
          break;
        case 'value_float':
          t = { dims: [], data: Float64Array.of(a.f ?? 0), integer: false };
          break;
        case 'value_floats':
          t = { dims: [(a.floats ?? []).length], data: Float64Array.from(a.floats ?? []), integer: false };
          break;
        case 'value_int':
          t = { dims: [], data: Float64Array.of(toNumber(a.i as IntLike)), integer: true };
          break;
        case 'value_ints':
          t = { dims: [(a.ints ?? []).length], data: Float64Array.from((a.ints ?? []).map((v) => toNumber(v as IntLike))), integer: true };
          break;
        default:
          this.fail(`Constant attribute '${a.name}' is not supported`);
      }
    } catch (e) {
      if (e instanceof ModelFormatError) throw e;
      this.fail((e as Error).message);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) this.fail(`the constant '${out}' holds ${t.data[bad]} at index ${bad}; constants must be finite`);
    this.consts.set(out, t);
  }

  /** Shape-computation subgraphs on constants (as some exporters emit for Reshape targets). */
  private constantFold(node: onnx.NodeProto): void {
    const op = node.opType;
    const out = node.output[0];
    if (!out) this.fail('the node has no output');
    const c = (k: number) => this.constInput(node, k, 'input');
    switch (op) {
      case 'Identity':
        this.consts.set(out, c(0));
        return;
      case 'Cast':
        this.consts.set(out, { ...c(0), integer: [6, 7].includes(this.intAttr(node, 'to', 1)) });
        return;
      case 'Unsqueeze': {
        const t = c(0);
        const axes = node.input[1] ? Array.from(c(1).data) : (this.intsAttr(node, 'axes') ?? []);
        const rank = t.dims.length + axes.length;
        const norm = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
        const dims = t.dims.slice();
        for (const a of norm) dims.splice(a, 0, 1);
        this.consts.set(out, { ...t, dims });
        return;
      }
      case 'Gather': {
        const data = c(0);
        const idx = c(1);
        if (data.dims.length !== 1 || this.intAttr(node, 'axis', 0) !== 0) this.fail('only Gather from a 1-D constant along axis 0 is supported');
        const n = data.data.length;
        const picked = Array.from(idx.data, (v) => {
          const j = v < 0 ? v + n : v;
          if (!(j >= 0 && j < n)) this.fail(`Gather index ${v} is out of range for ${n} values`);
          return data.data[j];
        });
        this.consts.set(out, { dims: idx.dims.slice(), data: Float64Array.from(picked), integer: data.integer });
        return;
      }
      case 'Concat': {
        const ts = node.input.map((_, k) => c(k));
        if (ts.some((t) => t.dims.length !== 1)) this.fail('only 1-D constant Concat is supported');
        const data = Float64Array.from(ts.flatMap((t) => Array.from(t.data)));
        this.consts.set(out, { dims: [data.length], data, integer: ts.every((t) => t.integer) });
        return;
      }
      default:
        this.fail(`op type '${op}' on constant inputs is not supported`);
    }
  }

  // ---- shape ops ----
  flatten(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['axis']);
    const axis = this.intAttr(node, 'axis', 1);
    if (axis !== 1) this.fail(`Flatten axis ${axis} is not supported (only axis 1 keeps the batch dimension separate)`);
    this.flattenTo(out);
  }

  private flattenTo(out: string): void {
    const a = this.act;
    if (a.layout.kind === 'flat') return this.setAct(out, [prod(a.shape)], a.layout);
    const ir = this.irShape();
    const [h, w, c] = ir;
    const strides = rowMajorStrides(a.shape);
    // onnx axis j has the coordinate of IR axis axes[j]
    const irStrideInOnnx = [0, 0, 0];
    a.layout.axes.forEach((irAxis, j) => (irStrideInOnnx[irAxis] = strides[j]));
    const perm = new Int32Array(h * w * c);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) perm[(y * w + x) * c + ch] = y * irStrideInOnnx[0] + x * irStrideInOnnx[1] + ch * irStrideInOnnx[2];
    this.push({ kind: 'flatten' });
    this.setAct(out, [h * w * c], { kind: 'flat', perm: isIdentity(perm) ? null : perm });
  }

  reshape(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['allowzero']);
    const target = this.constInput(node, 1, 'the target shape');
    if (target.dims.length !== 1) this.fail('the target shape must be 1-D');
    const t = Array.from(target.data);
    const cur = [1, ...this.act.shape];
    const total = prod(this.act.shape);
    const resolved = t.map((d, i) => (d === 0 && this.intAttr(node, 'allowzero', 0) === 0 ? cur[i] : d));
    if (resolved.filter((d) => d === -1).length > 1) this.fail(`target shape [${t}] has more than one -1`);
    const known = resolved.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
    const full = resolved.map((d) => (d === -1 ? total / known : d));
    if (full.some((d) => !Number.isInteger(d) || d <= 0) || prod(full) !== total) {
      this.fail(`cannot reshape [${cur}] (batch 1) to [${t}]`);
    }
    if (full[0] !== 1) this.fail(`reshape to [${t}] changes the batch dimension, which is not supported`);
    const rest = full.slice(1);
    if (sameArr(rest, this.act.shape)) return this.setAct(out, this.act.shape, this.act.layout);
    if (rest.length === 1) return this.flattenTo(out);
    if (this.act.layout.kind === 'flat' && rest.length !== 3) {
      // Row-major element order is unchanged, so a flat activation stays flat.
      return this.setAct(out, rest, this.act.layout);
    }
    this.fail(`reshape from [${cur}] to [${t}] is not supported (only flattening reshapes)`);
  }

  transpose(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['perm']);
    const a = this.act;
    const rank = a.shape.length + 1;
    const perm = this.intsAttr(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    if (perm.length !== rank || perm[0] !== 0) this.fail(`Transpose perm [${perm}] must keep the batch dimension first`);
    const newShape = perm.slice(1).map((p) => a.shape[p - 1]);
    if (a.layout.kind === 'image') {
      const axes = a.layout.axes;
      return this.setAct(out, newShape, { kind: 'image', axes: perm.slice(1).map((p) => axes[p - 1]) });
    }
    // A flat activation whose non-unit dims keep their order is unchanged in memory.
    const nonUnit = perm.slice(1).filter((p) => a.shape[p - 1] !== 1);
    if (nonUnit.every((p, i) => i === 0 || p > nonUnit[i - 1])) return this.setAct(out, newShape, a.layout);
    this.fail(`Transpose perm [${perm}] of a non-image activation [${a.shape}] is not supported`);
  }

  private requireNchw(what: string): void {
    const a = this.act;
    if (a.layout.kind !== 'image' || !sameArr(a.layout.axes, NCHW_AXES)) {
      this.fail(`${what} needs a 4-D activation in NCHW order; the activation here has shape [${a.shape}] in a different layout`);
    }
  }

  conv(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['kernel_shape', 'strides', 'pads', 'dilations', 'group', 'auto_pad']);
    this.requireNchw('Conv');
    const W = this.constInput(node, 1, 'the weight');
    if (W.dims.length !== 4) this.fail(`Conv weight must be 4-D [M, C, kH, kW], got [${W.dims}]`);
    const [m, cin, kh, kw] = W.dims;
    const [c, h, w] = this.act.shape;
    if (this.intAttr(node, 'group', 1) !== 1) this.fail(`group ${this.intAttr(node, 'group', 1)} is not supported (only group = 1)`);
    if (cin !== c) this.fail(`Conv weight has ${cin} input channels, the activation has ${c}`);
    const ks = this.intsAttr(node, 'kernel_shape');
    if (ks && !sameArr(ks, [kh, kw])) this.fail(`kernel_shape [${ks}] disagrees with the weight's [${kh}, ${kw}]`);
    const dil = this.intsAttr(node, 'dilations') ?? [1, 1];
    if (dil.some((d) => d !== 1)) this.fail(`dilations [${dil}] are not supported (only 1)`);
    const strides = this.intsAttr(node, 'strides') ?? [1, 1];
    if (strides.length !== 2) this.fail(`strides [${strides}] must have two entries`);
    const pads = this.resolvePads(node, [h, w], [kh, kw], strides);
    const padding: Padding = pads.every((p) => p === 0)
      ? 'valid'
      : [
          [pads[0], pads[2]],
          [pads[1], pads[3]],
        ];
    const kernel = new Float32Array(kh * kw * c * m);
    for (let o = 0; o < m; o++)
      for (let ch = 0; ch < c; ch++)
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) kernel[((y * kw + x) * c + ch) * m + o] = W.data[((o * c + ch) * kh + y) * kw + x];
    const params: Record<string, Param> = { kernel: { shape: [kh, kw, c, m], data: kernel } };
    const useBias = !!node.input[2];
    if (useBias) {
      const B = this.constInput(node, 2, 'the bias');
      if (B.data.length !== m) this.fail(`Conv bias has ${B.data.length} values, expected ${m}`);
      params.bias = { shape: [m], data: Float32Array.from(B.data) };
    }
    const layer: LayerSpec = { kind: 'conv2d', filters: m, kernelSize: [kh, kw], strides: [strides[0], strides[1]], padding, useBias };
    const [ho, wo] = outputShape(layer, [h, w, c]);
    if (!(ho > 0 && wo > 0)) this.fail(`Conv output would be empty for input [${this.act.shape}]`);
    if (layer.name === undefined && node.name) layer.name = node.name;
    this.push(layer, params);
    this.setAct(out, [m, ho, wo], { kind: 'image', axes: NCHW_AXES.slice() });
  }

  /** Explicit [top, left, bottom, right] pads from pads / auto_pad. */
  private resolvePads(node: onnx.NodeProto, inHW: number[], k: number[], s: number[]): number[] {
    const auto = this.stringAttr(node, 'auto_pad', 'NOTSET');
    if (auto === 'NOTSET') {
      const pads = this.intsAttr(node, 'pads') ?? [0, 0, 0, 0];
      if (pads.length !== 4 || pads.some((p) => p < 0)) this.fail(`pads [${pads}] must be four non-negative values`);
      return pads;
    }
    if (auto === 'VALID') return [0, 0, 0, 0];
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      const begin: number[] = [];
      const end: number[] = [];
      for (let ax = 0; ax < 2; ax++) {
        const outN = Math.ceil(inHW[ax] / s[ax]);
        const total = Math.max((outN - 1) * s[ax] + k[ax] - inHW[ax], 0);
        const small = Math.floor(total / 2);
        begin.push(auto === 'SAME_UPPER' ? small : total - small);
        end.push(auto === 'SAME_UPPER' ? total - small : small);
      }
      return [begin[0], begin[1], end[0], end[1]];
    }
    this.fail(`auto_pad '${auto}' is not supported`);
  }

  avgPool(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['kernel_shape', 'strides', 'pads', 'auto_pad', 'ceil_mode', 'count_include_pad', 'dilations']);
    this.requireNchw('AveragePool');
    const ks = this.intsAttr(node, 'kernel_shape');
    if (!ks || ks.length !== 2) this.fail('AveragePool needs a 2-D kernel_shape');
    const strides = this.intsAttr(node, 'strides') ?? [1, 1];
    const [c, h, w] = this.act.shape;
    const pads = this.resolvePads(node, [h, w], ks, strides);
    if (pads.some((p) => p !== 0)) this.fail(`AveragePool padding [${pads}] is not supported (only unpadded pooling)`);
    if (this.intAttr(node, 'ceil_mode', 0) !== 0) this.fail('AveragePool ceil_mode = 1 is not supported');
    const dil = this.intsAttr(node, 'dilations') ?? [1, 1];
    if (dil.some((d) => d !== 1)) this.fail(`dilations [${dil}] are not supported`);
    const layer: LayerSpec = { kind: 'avgpool', poolSize: [ks[0], ks[1]], strides: [strides[0], strides[1]], padding: 'valid' };
    const [ho, wo] = outputShape(layer, [h, w, c]);
    if (!(ho > 0 && wo > 0)) this.fail(`AveragePool output would be empty for input [${this.act.shape}]`);
    this.push(layer);
    this.setAct(out, [c, ho, wo], this.act.layout);
  }

  private requireFlatVector(what: string): { k: number; perm: Int32Array | null } {
    const a = this.act;
    if (a.layout.kind !== 'flat' || a.shape.length !== 1) this.fail(`${what} needs a 2-D [N, K] activation, got [N, ${a.shape}]; a Flatten is missing`);
    return { k: a.shape[0], perm: a.layout.perm };
  }

  gemm(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['alpha', 'beta', 'transA', 'transB']);
    if (this.intAttr(node, 'transA', 0) !== 0) this.fail('transA = 1 is not supported');
    const { k, perm } = this.requireFlatVector('Gemm');
    const B = this.constInput(node, 1, 'B');
    const transB = this.intAttr(node, 'transB', 0) !== 0;
    const alpha = this.floatAttr(node, 'alpha', 1);
    const beta = this.floatAttr(node, 'beta', 1);
    if (B.dims.length !== 2) this.fail(`B must be 2-D, got [${B.dims}]`);
    const [kB, m] = transB ? [B.dims[1], B.dims[0]] : B.dims;
    if (kB !== k) this.fail(`B has inner dimension ${kB}, the activation has ${k}`);
    const kernel = new Float32Array(k * m);
    for (let r = 0; r < k; r++) {
      const o = perm ? perm[r] : r;
      for (let u = 0; u < m; u++) kernel[r * m + u] = alpha * (transB ? B.data[u * k + o] : B.data[o * m + u]);
    }
    const params: Record<string, Param> = { kernel: { shape: [k, m], data: kernel } };
    const useBias = !!node.input[2];
    if (useBias) {
      const C = this.constInput(node, 2, 'C');
      const bias = this.perUnitVector(C, m, 'C');
      params.bias = { shape: [m], data: Float32Array.from(bias, (v) => beta * v) };
    }
    this.push({ kind: 'dense', units: m, useBias, ...(node.name ? { name: node.name } : {}) }, params);
    this.setAct(out, [m], { kind: 'flat', perm: null });
  }

  matmul(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, []);
    const { k, perm } = this.requireFlatVector('MatMul');
    const B = this.constInput(node, 1, 'the right operand');
    if (B.dims.length !== 2) this.fail(`the right operand must be 2-D [K, M], got [${B.dims}]`);
    const [kB, m] = B.dims;
    if (kB !== k) this.fail(`the right operand has ${kB} rows, the activation has ${k} features`);
    const kernel = new Float32Array(k * m);
    for (let r = 0; r < k; r++) {
      const o = perm ? perm[r] : r;
      for (let u = 0; u < m; u++) kernel[r * m + u] = B.data[o * m + u];
    }
    this.push({ kind: 'dense', units: m, useBias: false, ...(node.name ? { name: node.name } : {}) }, { kernel: { shape: [k, m], data: kernel } });
    this.setAct(out, [m], { kind: 'flat', perm: null });
  }

  /** A bias-like constant broadcast to [m] (dims [], [1], [m], [1, m]). */
  private perUnitVector(t: ConstTensor, m: number, what: string): Float64Array {
    const n = t.data.length;
    if (n === 1) return new Float64Array(m).fill(t.data[0]);
    if (n === m && t.dims.length <= 2 && t.dims[t.dims.length - 1] === m) return t.data;
    this.fail(`${what} has shape [${t.dims}], which does not broadcast to [${m}]`);
  }

  batchNorm(node: onnx.NodeProto, out: string): void {
    this.rejectAttrs(node, ['epsilon', 'momentum', 'training_mode', 'spatial']);
    if (this.intAttr(node, 'training_mode', 0) !== 0) this.fail('training_mode = 1 is not supported (export the model in eval mode)');
    if (this.intAttr(node, 'spatial', 1) !== 1) this.fail('spatial = 0 is not supported');
    if (node.output.slice(1).some((n) => n !== '')) this.fail('training outputs (running mean/var) are not supported');
    const a = this.act;
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) => this.constInput(node, k, ['scale', 'B', 'mean', 'var'][k - 1]));
    let c: number;
    let order: (ch: number) => number;
    if (a.layout.kind === 'image') {
      if (a.layout.axes[0] !== 2) this.fail('BatchNormalization on a 4-D activation needs channels at axis 1 (NCHW)');
      c = a.shape[0];
      order = (ch) => ch;
    } else {
      if (a.shape.length !== 1) this.fail(`BatchNormalization on [N, ${a.shape}] is not supported`);
      c = a.shape[0];
      const perm = a.layout.perm;
      order = (ch) => (perm ? perm[ch] : ch);
    }
    for (const [t, nm] of [
      [scale, 'scale'],
      [bias, 'B'],
      [mean, 'mean'],
      [variance, 'var'],
    ] as const) {
      if (t.data.length !== c) this.fail(`BatchNormalization ${nm} has ${t.data.length} values, the activation has ${c} channels`);
    }
    const epsilon = this.floatAttr(node, 'epsilon', 1e-5);
    const momentum = this.floatAttr(node, 'momentum', 0.9);
    if (!(epsilon >= 0 && Number.isFinite(epsilon))) this.fail(`BatchNormalization epsilon ${epsilon} must be a finite non-negative number`);
    if (!Number.isFinite(momentum)) this.fail(`BatchNormalization momentum ${momentum} must be finite`);
    const varName = node.input[4];
    variance.data.forEach((v, ch) => {
      if (v < 0) this.fail(`BatchNormalization variance '${varName}' is negative (${v}) at channel ${ch}`);
      if (!(v + epsilon > 0)) this.fail(`BatchNormalization variance '${varName}' plus epsilon is 0 at channel ${ch} (division by zero)`);
    });
    const pick = (t: ConstTensor) => Float32Array.from({ length: c }, (_, ch) => t.data[order(ch)]);
    this.push(
      { kind: 'batchnorm', epsilon, momentum },
      {
        gamma: { shape: [c], data: pick(scale) },
        beta: { shape: [c], data: pick(bias) },
        movingMean: { shape: [c], data: pick(mean) },
        movingVariance: { shape: [c], data: pick(variance) },
      },
    );
    this.setAct(out, a.shape, a.layout);
  }

  /**
   * A constant broadcast against the activation, as one value per IR channel (image) or per
   * IR feature (flat), or a single value when it is uniform.
   */
  private perChannel(t: ConstTensor): number[] {
    const a = this.act;
    const full = [1, ...a.shape];
    if (t.dims.length > full.length) this.fail(`the constant's shape [${t.dims}] has more dimensions than the activation [N, ${a.shape}]`);
    const cd = Array(full.length - t.dims.length)
      .fill(1)
      .concat(t.dims) as number[];
    cd.forEach((d, i) => {
      if (d !== 1 && d !== full[i]) this.fail(`the constant's shape [${t.dims}] does not broadcast to [N, ${a.shape}]`);
    });
    if (cd[0] !== 1) this.fail(`the constant's shape [${t.dims}] spans the batch dimension`);
    const cStrides = rowMajorStrides(cd);
    const valueAtOnnx = (coords: number[]) => {
      let idx = 0;
      coords.forEach((v, j) => (idx += cd[j + 1] === 1 ? 0 : v * cStrides[j + 1]));
      return t.data[idx];
    };
    const uniform = t.data.every((v) => v === t.data[0]);
    if (uniform) return [t.data[0]];
    if (a.layout.kind === 'image') {
      const ir = this.irShape();
      const axes = a.layout.axes;
      const per: number[] = [];
      for (let y = 0; y < ir[0]; y++)
        for (let x = 0; x < ir[1]; x++)
          for (let ch = 0; ch < ir[2]; ch++) {
            const irc = [y, x, ch];
            const v = valueAtOnnx(axes.map((ax) => irc[ax]));
            if (y === 0 && x === 0) per.push(v);
            else if (per[ch] !== v)
              this.fail(`the constant's shape [${t.dims}] varies across spatial positions; only per-channel constants are supported on images`);
          }
      return per;
    }
    const perm = a.layout.perm;
    const strides = rowMajorStrides(a.shape);
    const d = prod(a.shape);
    const per: number[] = [];
    for (let kk = 0; kk < d; kk++) {
      let o = perm ? perm[kk] : kk;
      const coords = strides.map((s) => {
        const q = Math.floor(o / s);
        o -= q * s;
        return q;
      });
      per.push(valueAtOnnx(coords));
    }
    return per;
  }

  elementwise(node: onnx.NodeProto, op: 'Add' | 'Sub' | 'Mul' | 'Div', k: number, out: string): void {
    this.rejectAttrs(node, []);
    if (node.input.length !== 2) this.fail(`${op} needs two inputs`);
    const c = this.constInput(node, 1 - k, 'the other operand');
    const vals = this.perChannel(c);
    if (op === 'Add' && this.lastLinear === this.layers.length - 1 && this.lastLinear >= 0) {
      // Bias of the preceding conv/dense layer.
      const i = this.lastLinear;
      const layer = this.layers[i];
      if (layer.kind !== 'conv2d' && layer.kind !== 'dense') throw new Error('unreachable');
      const units = layer.kind === 'conv2d' ? layer.filters : layer.units;
      if (vals.length === 1 || vals.length === units) {
        const key = paramKey(i, 'bias');
        const bias = this.params.get(key) ?? { shape: [units], data: new Float32Array(units) };
        for (let u = 0; u < units; u++) bias.data[u] += vals.length === 1 ? vals[0] : vals[u];
        this.params.set(key, bias);
        layer.useBias = true;
        return this.setAct(out, this.act.shape, this.act.layout);
      }
    }
    let mean: number[];
    let std: number[];
    if (op === 'Sub' && k === 1) this.fail('constant - activation is not supported (it flips the sign of the input)');
    if (op === 'Div' && k === 1) this.fail('constant / activation is not supported');
    if (op === 'Add') [mean, std] = [vals.map((v) => -v), [1]];
    else if (op === 'Sub') [mean, std] = [vals, [1]];
    else {
      if (vals.some((v) => !(v > 0) || !Number.isFinite(v)))
        this.fail(`${op} by a non-positive or non-finite constant is not supported (normalisation needs positive scales)`);
      [mean, std] = [[0], op === 'Div' ? vals : vals.map((v) => 1 / v)];
    }
    this.pushNormalize(mean, std);
    this.setAct(out, this.act.shape, this.act.layout);
  }

  /** Append (x - mean) / std, merged into a directly preceding Normalize layer; the result must be finite with std != 0. */
  private pushNormalize(mean: number[], std: number[]): void {
    const check = (m: number[], sd: number[]) => {
      if (firstNonFinite(m) >= 0 || firstNonFinite(sd) >= 0 || sd.some((v) => v === 0)) this.fail('the normalisation would have a non-finite mean or scale');
    };
    const i = this.layers.length - 1;
    const prev = this.layers[i];
    if (prev && prev.kind === 'normalize' && this.lastLinear === -1) {
      // ((x - m1)/s1 - m2)/s2 = (x - (m1 + m2 s1)) / (s1 s2)
      const n = Math.max(prev.mean.length, prev.std.length, mean.length, std.length);
      const at = (arr: number[], j: number) => (arr.length === 1 ? arr[0] : arr[j]);
      const m: number[] = [];
      const s: number[] = [];
      for (let j = 0; j < n; j++) {
        m.push(at(prev.mean, j) + at(mean, j) * at(prev.std, j));
        s.push(at(prev.std, j) * at(std, j));
      }
      check(m, s);
      this.layers[i] = { kind: 'normalize', mean: m, std: s };
      return;
    }
    const n = Math.max(mean.length, std.length);
    const expand = (arr: number[]) => (arr.length === n ? arr : Array(n).fill(arr[0]));
    check(mean, std);
    this.push({ kind: 'normalize', mean: expand(mean), std: expand(std) });
  }
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function isIdentity(p: Int32Array): boolean {
  for (let k = 0; k < p.length; k++) if (p[k] !== k) return false;
  return true;
}
