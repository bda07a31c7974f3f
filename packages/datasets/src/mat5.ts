import * as zlib from 'zlib';
import { DataError } from '@certkd/core';

/** A numeric array read from a MATLAB v5 .mat file, column-major as MATLAB stores it. */
export interface MatArray {
  name: string;
  /** MATLAB class code (mxUINT8_CLASS = 9, mxDOUBLE_CLASS = 6, ...). */
  classCode: number;
  dims: number[];
  /** Real part, column-major; a view on the file for uint8 storage. */
  data: Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;
}

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15 };
const MI_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13]);

interface Element {
  type: number;
  body: Uint8Array;
  /** Offset of the next element. */
  next: number;
}

function readTag(buf: Uint8Array, off: number, le: boolean, file: string, where: string): Element {
  if (off + 8 > buf.length) throw new DataError(`truncated MAT file: ${where} tag at byte ${off} runs past the end`, file);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const w0 = v.getUint32(off, le);
  if (w0 >>> 16 !== 0) {
    // small data element: size and type packed in the first word, data in the next 4 bytes
    const n = w0 >>> 16;
    if (n > 4) throw new DataError(`corrupted MAT file: small ${where} element claims ${n} bytes`, file);
    return { type: w0 & 0xffff, body: buf.subarray(off + 4, off + 4 + n), next: off + 8 };
  }
  const n = v.getUint32(off + 4, le);
  if (off + 8 + n > buf.length) {
    throw new DataError(`truncated MAT file: ${where} element at byte ${off} needs ${n} bytes, ${buf.length - off - 8} left`, file);
  }
  const padded = w0 === MI.COMPRESSED ? n : Math.ceil(n / 8) * 8;
  return { type: w0, body: buf.subarray(off + 8, off + 8 + n), next: Math.min(buf.length, off + 8 + padded) };
}

function typedData(e: Element, le: boolean, file: string, name: string): MatArray['data'] {
  const size = MI_SIZE[e.type];
  if (!size) throw new DataError(`variable '${name}' uses unsupported MAT storage type ${e.type}`, file);
  if (e.body.length % size !== 0) throw new DataError(`variable '${name}': ${e.body.length} bytes is not a whole number of elements`, file);
  const n = e.body.length / size;
  const v = new DataView(e.body.buffer, e.body.byteOffset, e.body.byteLength);
  switch (e.type) {
    case MI.UINT8:
      return e.body;
    case MI.INT8:
      return new Int8Array(e.body.buffer, e.body.byteOffset, n);
    case MI.INT16:
      return Int16Array.from({ length: n }, (_, i) => v.getInt16(2 * i, le));
    case MI.UINT16:
      return Uint16Array.from({ length: n }, (_, i) => v.getUint16(2 * i, le));
    case MI.INT32:
      return Int32Array.from({ length: n }, (_, i) => v.getInt32(4 * i, le));
    case MI.UINT32:
      return Uint32Array.from({ length: n }, (_, i) => v.getUint32(4 * i, le));
    case MI.SINGLE:
      return Float32Array.from({ length: n }, (_, i) => v.getFloat32(4 * i, le));
    case MI.DOUBLE:
      return Float64Array.from({ length: n }, (_, i) => v.getFloat64(8 * i, le));
    case MI.INT64:
      return Float64Array.from({ length: n }, (_, i) => Number(v.getBigInt64(8 * i, le)));
    default:
      return Float64Array.from({ length: n }, (_, i) => Number(v.getBigUint64(8 * i, le)));
  }
}

function parseMatrix(body: Uint8Array, le: boolean, file: string): MatArray {
  const flags = readTag(body, 0, le, file, 'array flags');
  if (flags.body.length < 4) throw new DataError('corrupted MAT file: array flags element too short', file);
  const fv = new DataView(flags.body.buffer, flags.body.byteOffset, flags.body.byteLength);
  const flagWord = fv.getUint32(0, le);
  const classCode = flagWord & 0xff;
  const dimsEl = readTag(body, flags.next, le, file, 'dimensions');
  const dv = new DataView(dimsEl.body.buffer, dimsEl.body.byteOffset, dimsEl.body.byteLength);
  const dims: number[] = [];
  for (let i = 0; i + 4 <= dimsEl.body.length; i += 4) dims.push(dv.getInt32(i, le));
  const nameEl = readTag(body, dimsEl.next, le, file, 'array name');
  const name = Buffer.from(nameEl.body).toString('latin1');
  if (!NUMERIC_CLASSES.has(classCode)) return { name, classCode, dims, data: new Uint8Array(0) };
  if (flagWord & 0x800) throw new DataError(`variable '${name}' is complex; expected a real array`, file);
  const real = readTag(body, nameEl.next, le, file, `'${name}' data`);
  const data = typedData(real, le, file, name);
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new DataError(`variable '${name}' has ${data.length} elements but dimensions [${dims.join(', ')}] need ${count}`, file);
  }
  return { name, classCode, dims, data };
}

/**
 * Read the numeric variables of a MATLAB v5 .mat file (uncompressed or zlib-compressed
 * elements). MATLAB v7.3 files are HDF5 and are refused with a DataError.
 */
export function parseMat5(buf: Uint8Array, file: string): Map<string, MatArray> {
  if (buf.length < 128) throw new DataError(`truncated MAT file: ${buf.length} bytes, the header alone is 128`, file);
  const text = Buffer.from(buf.subarray(0, 116)).toString('latin1');
  if (text.startsWith('MATLAB 7.3')) {
    throw new DataError('MATLAB v7.3 (HDF5) files are not supported; save with -v7 or -v6 (SVHN ships v5 files)', file);
  }
  if (!text.startsWith('MATLAB')) throw new DataError('not a MATLAB v5 .mat file (header does not start with "MATLAB")', file);
  const endian = String.fromCharCode(buf[126], buf[127]);
  if (endian !== 'IM' && endian !== 'MI') throw new DataError(`corrupted MAT header: endian indicator '${endian}'`, file);
  const le = endian === 'IM';
  const out = new Map<string, MatArray>();
  let off = 128;
  while (off < buf.length) {
    let el = readTag(buf, off, le, file, 'top-level');
    off = el.next;
    if (el.type === MI.COMPRESSED) {
      let inner: Buffer;
      try {
        inner = zlib.inflateSync(el.body);
      } catch (e) {
        throw new DataError(`corrupted compressed element: ${(e as Error).message}`, file);
      }
      el = readTag(new Uint8Array(inner.buffer, inner.byteOffset, inner.byteLength), 0, le, file, 'compressed');
    }
    if (el.type !== MI.MATRIX) continue;
    const m = parseMatrix(el.body, le, file);
    out.set(m.name, m);
  }
  return out;
}

/** Encode uint8 or double arrays as a MATLAB v5 file (tests and tools; compress with zlib when asked). */
export function encodeMat5(vars: { name: string; dims: number[]; data: Uint8Array | Float64Array }[], compress = false): Uint8Array {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, written by certkd', 0, 'latin1');
  header.fill(0, 116, 124);
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  parts.push(header);
  const el = (type: number, body: Buffer) => {
    const pad = Buffer.alloc((8 - (body.length % 8)) % 8);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(type, 0);
    tag.writeUInt32LE(body.length, 4);
    return Buffer.concat([tag, body, pad]);
  };
  for (const v of vars) {
    const isU8 = v.data instanceof Uint8Array;
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(isU8 ? 9 : 6, 0);
    const dims = Buffer.alloc(4 * v.dims.length);
    v.dims.forEach((d, i) => dims.writeInt32LE(d, 4 * i));
    const data = Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    const body = Buffer.concat([el(MI.UINT32, flags), el(MI.INT32, dims), el(MI.INT8, Buffer.from(v.name, 'latin1')), el(isU8 ? MI.UINT8 : MI.DOUBLE, data)]);
    const matrix = el(MI.MATRIX, body);
    if (compress) {
      const z = zlib.deflateSync(matrix);
      const tag = Buffer.alloc(8);
      tag.writeUInt32LE(MI.COMPRESSED, 0);
      tag.writeUInt32LE(z.length, 4);
      parts.push(tag, z);
    } else parts.push(matrix);
  }
  const b = Buffer.concat(parts);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
