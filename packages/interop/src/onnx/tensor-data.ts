import { onnx } from 'onnx-proto';

/** An int64 as protobufjs decodes it: a number, or a Long when the long package is present. */
export type IntLike = number | { toNumber(): number } | null | undefined;

/** A constant tensor read from an initializer or a Constant node. */
export interface ConstTensor {
  dims: number[];
  /** Values as doubles (float, double and integer element types alike). */
  data: Float64Array;
  /** Whether the element type is an integer type (shapes, axes). */
  integer: boolean;
}

export function toNumber(v: IntLike): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const DOUBLE = onnx.TensorProto.DataType.DOUBLE;
const INT32 = onnx.TensorProto.DataType.INT32;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Most elements a constant tensor may declare (256 Mi): larger dims are refused before anything is allocated. */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/**
 * Decode a TensorProto's values (little-endian raw_data or the typed repeated fields). The
 * declared dims are checked against the data actually present before anything is allocated,
 * so a corrupt file cannot ask for gigabytes.
 */
export function decodeTensor(t: onnx.ITensorProto): ConstTensor {
  const dims = (t.dims ?? []).map((d) => toNumber(d as IntLike));
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`tensor '${t.name ?? ''}' has invalid dims [${dims}]`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (size > MAX_TENSOR_ELEMENTS)
    throw new Error(`tensor '${t.name ?? ''}' declares ${size} elements (dims [${dims}]); at most ${MAX_TENSOR_ELEMENTS} are supported`);
  const type = t.dataType ?? 0;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(`tensor '${t.name ?? ''}' stores its data in an external file, which is not supported`);
  }
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const bytesPer = type === FLOAT || type === INT32 ? 4 : type === DOUBLE || type === INT64 ? 8 : 0;
  if (bytesPer === 0) throw new Error(`tensor '${t.name ?? ''}' has unsupported element type ${onnx.TensorProto.DataType[type] ?? type}`);
  if (raw) {
    if (raw.length !== size * bytesPer) {
      throw new Error(`tensor '${t.name ?? ''}' has ${raw.length} bytes of data, expected ${size * bytesPer} for dims [${dims}]`);
    }
    const out = new Float64Array(size);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < size; i++) {
      if (type === FLOAT) out[i] = view.getFloat32(4 * i, true);
      else if (type === INT32) out[i] = view.getInt32(4 * i, true);
      else if (type === DOUBLE) out[i] = view.getFloat64(8 * i, true);
      else out[i] = Number(view.getBigInt64(8 * i, true));
    }
    return { dims, data: out, integer: type === INT32 || type === INT64 };
  }
  const src: IntLike[] =
    type === FLOAT ? (t.floatData ?? []) : type === DOUBLE ? (t.doubleData ?? []) : type === INT32 ? (t.int32Data ?? []) : ((t.int64Data ?? []) as IntLike[]);
  if (src.length !== size) {
    throw new Error(`tensor '${t.name ?? ''}' has ${src.length} values, expected ${size} for dims [${dims}]`);
  }
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) out[i] = toNumber(src[i]);
  return { dims, data: out, integer: type === INT32 || type === INT64 };
}

/** Index of the first NaN or ±Inf in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/** A float32 TensorProto with little-endian raw data. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const size = dims.reduce((a, b) => a * b, 1);
  if (values.length !== size) throw new Error(`tensor '${name}': ${values.length} values for dims [${dims}]`);
  const raw = new Uint8Array(4 * size);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < size; i++) view.setFloat32(4 * i, values[i], true);
  return { name, dims, dataType: FLOAT, rawData: raw };
}
