import { DataError } from '@certkd/core';
import { readMaybeGzip } from './files';

/** IDX element types by their type byte (the third byte of the magic number). */
export const IDX_TYPES = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;
export type IdxTypeCode = keyof typeof IDX_TYPES;

export interface IdxArray {
  /** The 32-bit magic number (0x0000TTDD: type byte TT, DD dimensions). */
  magic: number;
  type: IdxTypeCode;
  dims: number[];
  /** Elements in row-major order; a view on the input for unsigned bytes. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const hex = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/**
 * Parse an IDX file (the MNIST format: big-endian magic 0x0000TTDD, DD big-endian uint32
 * dimensions, then the elements). The byte length must match the header exactly.
 */
export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length < 4) throw new DataError(`truncated IDX file: ${buf.length} bytes, no room for the magic number`, file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DataError(`wrong magic number ${hex(magic)}: an IDX file starts with two zero bytes`, file);
  }
  const typeByte = buf[2];
  const info = (IDX_TYPES as Record<number, { name: string; size: number }>)[typeByte];
  if (!info) throw new DataError(`wrong magic number ${hex(magic)}: unknown IDX data type byte 0x${typeByte.toString(16)}`, file);
  const ndims = buf[3];
  if (ndims < 1) throw new DataError(`wrong magic number ${hex(magic)}: zero dimensions`, file);
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) {
    throw new DataError(`truncated IDX header: ${ndims} dimensions need ${headerLen} bytes, file has ${buf.length}`, file);
  }
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerLen + count * info.size;
  if (buf.length < expected) {
    throw new DataError(`truncated IDX file: dimensions [${dims.join(', ')}] of ${info.name} need ${expected} bytes, file has ${buf.length}`, file);
  }
  if (buf.length > expected) {
    throw new DataError(
      `IDX file has ${buf.length - expected} bytes after the ${expected} its header [${dims.join(', ')}] describes (corrupted or wrong header)`,
      file,
    );
  }
  const type = typeByte as IdxTypeCode;
  const body = buf.subarray(headerLen, expected);
  let data: IdxArray['data'];
  if (type === 0x08) data = body;
  else if (type === 0x09) data = new Int8Array(body.buffer, body.byteOffset, count);
  else {
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (type === 0x0b) {
      data = new Int16Array(count);
      for (let i = 0; i < count; i++) data[i] = bv.getInt16(2 * i, false);
    } else if (type === 0x0c) {
      data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = bv.getInt32(4 * i, false);
    } else if (type === 0x0d) {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = bv.getFloat32(4 * i, false);
    } else {
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = bv.getFloat64(8 * i, false);
    }
  }
  return { magic, type, dims, data };
}

/** Read and parse an IDX file, plain or gzip-compressed. */
export function readIdxFile(file: string): IdxArray {
  return parseIdx(readMaybeGzip(file), file);
}

/** Encode an array as IDX bytes (used by tests and tools to write files in the real format). */
export function encodeIdx(type: IdxTypeCode, dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = IDX_TYPES[type].size;
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + values.length * size);
  const v = new DataView(out.buffer);
  v.setUint32(0, (type << 8) | dims.length, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < values.length; i++) {
    const o = headerLen + i * size;
    if (type === 0x08) v.setUint8(o, values[i]);
    else if (type === 0x09) v.setInt8(o, values[i]);
    else if (type === 0x0b) v.setInt16(o, values[i], false);
    else if (type === 0x0c) v.setInt32(o, values[i], false);
    else if (type === 0x0d) v.setFloat32(o, values[i], false);
    else v.setFloat64(o, values[i], false);
  }
  return out;
}
