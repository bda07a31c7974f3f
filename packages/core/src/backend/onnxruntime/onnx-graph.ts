/*
 * A minimal ONNX ModelProto writer for the small single-purpose graphs the onnxruntime kernels
 * run (a few nodes, float32 inputs and outputs, int64 constants). Only the fields those graphs
 * need are encoded; field numbers are those of onnx.proto3 (IR version 8).
 */

/** ONNX TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type AttrValue = number | number[] | string | { ints: number[] } | { floats: number[] } | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  /** Operator domain; '' (default) is the standard ai.onnx domain. */
  domain?: string;
}

export interface OnnxValueInfo {
  name: string;
  /** Static dimensions. */
  shape: readonly number[];
  /** ONNX element type (default float32). */
  type?: number;
}

export interface OnnxConstant {
  name: string;
  shape: readonly number[];
  /** int64 values (ONNX_INT64) or float32 values (ONNX_FLOAT). */
  type: typeof ONNX_FLOAT | typeof ONNX_INT64;
  values: readonly number[];
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  constants?: OnnxConstant[];
  /** ai.onnx opset (default 17). */
  opset?: number;
}

class Writer {
  private chunks: number[] = [];

  varint(v: number | bigint): this {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.chunks.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.chunks.push(Number(n));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (let i = 0; i < b.length; i++) this.chunks.push(b[i]);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    for (let i = 0; i < 4; i++) this.chunks.push(b[i]);
    return this;
  }

  packedInts(field: number, vs: readonly number[]): this {
    const inner = new Writer();
    for (const v of vs) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(4 * vs.length);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function attribute(name: string, v: AttrValue): Writer {
  const w = new Writer().string(1, name);
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX attribute ${name}: ${v} is not an integer (use { float })`);
    return w.int(3, v).int(20, ATTR_INT);
  }
  if (typeof v === 'string') return w.string(4, v).int(20, ATTR_STRING);
  if (Array.isArray(v)) return w.packedInts(8, v).int(20, ATTR_INTS);
  if ('ints' in v) return w.packedInts(8, v.ints).int(20, ATTR_INTS);
  if ('floats' in v) return w.packedFloats(7, v.floats).int(20, ATTR_FLOATS);
  return w.float(2, v.float).int(20, ATTR_FLOAT);
}

function valueInfo(v: OnnxValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, v.type ?? ONNX_FLOAT).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

function constant(c: OnnxConstant): Writer {
  const w = new Writer();
  for (const d of c.shape) w.int(1, d);
  w.int(2, c.type);
  if (c.type === ONNX_INT64) w.packedInts(7, c.values);
  else w.packedFloats(4, c.values);
  return w.string(8, c.name);
}

/** Encode a graph as the bytes of an ONNX model (ModelProto). */
export function encodeOnnxModel(g: OnnxGraph): Uint8Array {
  const graph = new Writer();
  g.nodes.forEach((n, i) => {
    const node = new Writer();
    for (const s of n.inputs) node.string(1, s);
    for (const s of n.outputs) node.string(2, s);
    node.string(3, `n${i}`).string(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, attribute(k, v));
    if (n.domain) node.string(7, n.domain);
    graph.message(1, node);
  });
  graph.string(2, 'g');
  for (const c of g.constants ?? []) graph.message(5, constant(c));
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  const model = new Writer().int(1, 8).string(2, 'certkd');
  model.message(7, graph);
  model.message(8, new Writer().string(1, '').int(2, g.opset ?? 17));
  const domains = new Set(g.nodes.map((n) => n.domain).filter((d): d is string => !!d));
  for (const d of domains) model.message(8, new Writer().string(1, d).int(2, 1));
  return model.finish();
}
