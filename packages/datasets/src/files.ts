import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { DataError } from '@certkd/core';

/** Read a file, gunzipping it when it is gzip (by name or by its 1f 8b signature). */
export function readMaybeGzip(file: string): Uint8Array {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new DataError(`cannot read file: ${(e as Error).message}`, file);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataError(`corrupted gzip data: ${(e as Error).message}`, file);
    }
  } else if (file.endsWith('.gz')) {
    throw new DataError('named .gz but does not start with the gzip signature 1f 8b', file);
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The directory must exist; DataError otherwise. */
export function requireDir(dir: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new DataError(`${what} folder does not exist`, dir);
  }
  if (!st.isDirectory()) throw new DataError(`${what} path is not a folder`, dir);
}

/**
 * The first of `candidates` (file names, each tried plain and with .gz) that exists in `dir`
 * or its sub-folders named in `subdirs`; DataError listing what was tried otherwise.
 */
export function findFile(dir: string, candidates: string[], subdirs: string[] = ['']): string {
  const tried: string[] = [];
  for (const sub of subdirs) {
    for (const c of candidates) {
      for (const name of [c, c + '.gz']) {
        const p = path.join(dir, sub, name);
        tried.push(path.join(sub, name));
        if (isFile(p)) return p;
      }
    }
  }
  throw new DataError(`missing file: none of ${tried.join(', ')} found`, dir);
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Size + mtime fingerprint of a file (cache invalidation). */
export function fingerprint(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}
