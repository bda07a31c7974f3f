import * as fs from 'fs';
import * as zlib from 'zlib';
import { pipeline } from 'stream/promises';
import { DataError } from '@certkd/core';

/** One member of a zip archive (an .npz holds one .npy per array). */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the member's bytes in the archive (after its local header). */
  dataOffset: number;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const got = fs.readSync(fd, b, 0, len, pos);
  return got === len ? b : b.subarray(0, got);
}

/** The members of a zip file (with zip64 sizes), read from its central directory. */
export function listZip(file: string): ZipEntry[] {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new DataError(`cannot open: ${(e as Error).message}`, file);
  }
  try {
    const total = fs.fstatSync(fd).size;
    const tailLen = Math.min(total, 65557);
    const tail = readAt(fd, total - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new DataError('not a zip/npz archive or truncated: no end-of-central-directory record', file);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) {
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new DataError('zip64 archive without a zip64 locator', file);
      const rec = readAt(fd, Number(tail.readBigUInt64LE(loc + 8)), 56);
      if (rec.readUInt32LE(0) !== 0x06064b50) throw new DataError('corrupted zip64 end-of-central-directory record', file);
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > total) throw new DataError(`truncated archive: central directory ends at ${cdOffset + cdSize}, file has ${total} bytes`, file);
    const cd = readAt(fd, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new DataError(`corrupted central directory entry ${k}`, file);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) {
            size = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(cd.readBigUInt64LE(q));
            q += 8;
          }
          if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      const lh = readAt(fd, localOffset, 30);
      if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50) throw new DataError(`corrupted local header of member '${name}'`, file);
      const dataOffset = localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      if (dataOffset + compressedSize > total) throw new DataError(`truncated archive: member '${name}' runs past the end`, file);
      if (method !== 0 && method !== 8) throw new DataError(`member '${name}' uses compression method ${method}; only stored and deflate are supported`, file);
      entries.push({ name, method, compressedSize, size, dataOffset });
      p = eEnd + commentLen;
    }
    return entries;
  } finally {
    fs.closeSync(fd);
  }
}

/** The uncompressed bytes of one member (for small members such as labels). */
export function readZipEntry(file: string, entry: ZipEntry): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const raw = readAt(fd, entry.dataOffset, entry.compressedSize);
    let out: Buffer;
    try {
      out = entry.method === 8 ? zlib.inflateRawSync(raw) : raw;
    } catch (e) {
      throw new DataError(`member '${entry.name}' has corrupted deflate data: ${(e as Error).message}`, file);
    }
    if (out.length !== entry.size) throw new DataError(`member '${entry.name}' is ${out.length} bytes, the directory says ${entry.size}`, file);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Stream one member, inflated, into `dest`. */
export async function extractZipEntry(file: string, entry: ZipEntry, dest: string): Promise<void> {
  const src = fs.createReadStream(file, { start: entry.dataOffset, end: entry.dataOffset + entry.compressedSize - 1 });
  const out = fs.createWriteStream(dest);
  try {
    if (entry.method === 8) await pipeline(src, zlib.createInflateRaw(), out);
    else await pipeline(src, out);
  } catch (e) {
    throw new DataError(`cannot extract member '${entry.name}': ${(e as Error).message}`, file);
  }
  const size = fs.statSync(dest).size;
  if (size !== entry.size) throw new DataError(`member '${entry.name}' extracted to ${size} bytes, the directory says ${entry.size}`, file);
}

export interface NpyHeader {
  /** numpy dtype string, e.g. '|u1', '<i8'. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Bytes before the array data. */
  dataOffset: number;
}

/** Parse the header of an .npy array (versions 1-3). */
export function parseNpyHeader(buf: Uint8Array, file: string): NpyHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || b[0] !== 0x93 || b.subarray(1, 6).toString('latin1') !== 'NUMPY') {
    throw new DataError('not an .npy array: missing the \\x93NUMPY magic', file);
  }
  const major = b[6];
  const lenBytes = major === 1 ? 2 : 4;
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = 8 + lenBytes;
  if (b.length < start + hlen) throw new DataError('truncated .npy header', file);
  const text = b.subarray(start, start + hlen).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new DataError(`malformed .npy header: ${text.trim()}`, file);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DataError(`malformed .npy shape (${shapeText})`, file);
  return { descr, fortranOrder: fortran === 'True', shape, dataOffset: start + hlen };
}

/** Read an integer or float .npy array fully as numbers (labels and other small arrays). */
export function npyToNumbers(buf: Uint8Array, file: string): { header: NpyHeader; values: Float64Array } {
  const h = parseNpyHeader(buf, file);
  const n = h.shape.reduce((a, b) => a * b, 1);
  const m = /^([<>|=])([iuf])(\d)$/.exec(h.descr);
  if (!m) throw new DataError(`unsupported .npy dtype '${h.descr}'`, file);
  const le = m[1] !== '>';
  const kind = m[2];
  const size = Number(m[3]);
  if (buf.length < h.dataOffset + n * size)
    throw new DataError(`truncated .npy data: ${n} elements of ${size} bytes need ${h.dataOffset + n * size} bytes, got ${buf.length}`, file);
  const v = new DataView(buf.buffer, buf.byteOffset + h.dataOffset, n * size);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    if (kind === 'f') values[i] = size === 4 ? v.getFloat32(o, le) : size === 8 ? v.getFloat64(o, le) : NaN;
    else if (size === 1) values[i] = kind === 'u' ? v.getUint8(o) : v.getInt8(o);
    else if (size === 2) values[i] = kind === 'u' ? v.getUint16(o, le) : v.getInt16(o, le);
    else if (size === 4) values[i] = kind === 'u' ? v.getUint32(o, le) : v.getInt32(o, le);
    else if (size === 8) values[i] = Number(kind === 'u' ? v.getBigUint64(o, le) : v.getBigInt64(o, le));
    else throw new DataError(`unsupported .npy dtype '${h.descr}'`, file);
    if (Number.isNaN(values[i])) throw new DataError(`unsupported .npy dtype '${h.descr}'`, file);
  }
  return { header: h, values };
}

/** Encode an .npy (v1) array: uint8 or int64 little-endian (tests and tools). */
export function encodeNpy(shape: number[], data: Uint8Array | BigInt64Array): Buffer {
  const descr = data instanceof Uint8Array ? '|u1' : '<i8';
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head[0] = 0x93;
  head.write('NUMPY', 1, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Write a zip archive of the given members (stored or deflated; no zip64): tests and tools. */
export function encodeZip(members: { name: string; data: Buffer }[], deflate: boolean): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const body = deflate ? zlib.deflateRawSync(m.data) : m.data;
    const name = Buffer.from(m.name, 'utf8');
    const crc = zlib.crc32(m.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(m.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(m.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    central.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
