// Named imports resolve at call time, so tests can inject failures by spying on the fs module.
import { closeSync, fstatSync, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from 'fs';
import * as path from 'path';
import { CertkdError } from '../errors/errors';

/**
 * Writing, syncing or renaming a file failed: the disk is full, a directory is in the way,
 * the folder is read-only... The message names the path and the reason. Exit code 2: the
 * output location given to the command cannot take the output.
 */
export class IoError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    readonly reason: string,
    readonly file: string,
    /** The system error code (ENOSPC, EISDIR, ...) when there is one. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
  }
}

/** Plain-words reasons for the system errors a write commonly meets. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EEXIST: 'already exists',
  EXDEV: 'cannot rename across file systems',
  ENOENT: 'no such file or directory',
};

/** Turn whatever a file operation threw into an IoError for `file` (CertkdErrors pass through). */
export function toIoError(err: unknown, file: string): CertkdError {
  if (err instanceof CertkdError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const known = code ? REASONS[code] : undefined;
  return new IoError(known ? `${known} (${code})` : err instanceof Error ? err.message : String(err), file, code, { cause: err });
}

/**
 * Write all of `bytes` to an open file: `writeSync` may write fewer bytes than asked (a
 * nearly full disk), so loop until everything is written; a write that makes no progress is
 * an error rather than an endless loop.
 */
function writeAll(fd: number, bytes: Uint8Array, file: string): void {
  let off = 0;
  while (off < bytes.length) {
    const n = writeSync(fd, bytes, off, bytes.length - off);
    if (!(n > 0)) throw new IoError(`short write: only ${off} of ${bytes.length} bytes were written (no space left on device?)`, file, 'ENOSPC');
    off += n;
  }
}

/** Write, flush and fsync `data` to `file` (created or truncated), closing it on every path. */
function writeSynced(file: string, bytes: Uint8Array, flag: 'w' | 'wx'): void {
  const fd = openSync(file, flag);
  let failure: unknown;
  try {
    writeAll(fd, bytes, file);
    fsyncSync(fd);
    const size = fstatSync(fd).size;
    if (size !== bytes.length) throw new IoError(`the file holds ${size} bytes after writing ${bytes.length}`, file);
  } catch (e) {
    failure = e;
  }
  // A failing close loses the data just as a failing write does; the write's own error comes first.
  const closeError = closeQuietly(fd);
  if (failure !== undefined) throw failure;
  if (closeError !== undefined) throw closeError;
}

/** Close a file descriptor, returning (not throwing) what the close threw. */
function closeQuietly(fd: number): unknown {
  try {
    closeSync(fd);
    return undefined;
  } catch (e) {
    return e;
  }
}

/** fsync a directory so a rename inside it survives a crash; skipped where the platform cannot (Windows). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EISDIR', 'EINVAL', 'EPERM', 'ENOTSUP', 'EBADF', 'EACCES'].includes(code ?? '')) throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** An IoError about the temp path `tmp` (or a file inside it) renamed to the path the user knows, `target`. */
function namedFor(err: unknown, tmp: string, target: string): unknown {
  if (!(err instanceof IoError) || !(err.file === tmp || err.file.startsWith(tmp + path.sep))) return err;
  return new IoError(err.reason, target + err.file.slice(tmp.length), err.code, { cause: err });
}

/** Remove a temp file or folder after a failure; a second failure must not hide the first. */
function removeQuietly(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    // The original error is the one worth reporting.
  }
}

const asBytes = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data);

/**
 * Write a file durably but not atomically: every byte written (short writes retried) and
 * fsynced. For files inside a directory that writeDirAtomic swaps into place. Failures throw an
 * IoError naming the file and the reason.
 */
export function writeFileSynced(file: string, data: string | Uint8Array): void {
  try {
    writeSynced(file, asBytes(data), 'w');
  } catch (e) {
    throw toIoError(e, file);
  }
}

/**
 * Write a file atomically and durably: write every byte to a temp file in the same folder,
 * fsync it, rename it over the target and fsync the folder. Readers see the old file or the
 * whole new one, never a part. On any failure (disk full, a directory in the way, no
 * permission) the temp file is removed, the old file is left intact and an IoError naming
 * the path and the reason is thrown; callers report "wrote" only after this returns.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = asBytes(data);
  const dir = path.dirname(path.resolve(file));
  let tmp: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    // Fail before writing anything when the target cannot be replaced by a file.
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new IoError(`${REASONS.EISDIR} (EISDIR)`, file, 'EISDIR');
    tmp = `${file}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    writeSynced(tmp, bytes, 'wx');
    renameSync(tmp, file);
    tmp = undefined;
    syncDir(dir);
  } catch (e) {
    if (tmp === undefined) throw toIoError(e, file);
    removeQuietly(tmp);
    throw toIoError(namedFor(e, tmp, file), file);
  }
}

/**
 * Replace a directory atomically: `fill` writes into a fresh temp directory (use
 * writeFileSynced for its files) that is then renamed into place; the old directory (if any)
 * is removed only after the rename, and restored if the rename fails. On any failure the temp
 * directory is removed and a system error becomes an IoError naming `dir` and the reason;
 * CertkdErrors thrown by `fill` pass through unchanged.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(path.resolve(dir));
  let tmp: string | undefined;
  try {
    mkdirSync(parent, { recursive: true });
    const existing = statSync(dir, { throwIfNoEntry: false });
    if (existing && !existing.isDirectory()) throw new IoError('exists and is not a directory', dir, 'ENOTDIR');
    tmp = mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
    fill(tmp);
    syncDir(tmp);
    let old: string | undefined;
    if (existing) {
      old = `${tmp}.old`;
      renameSync(dir, old);
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (old) renameSync(old, dir);
      throw e;
    }
    tmp = undefined;
    syncDir(parent);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    if (tmp === undefined) throw toIoError(e, dir);
    removeQuietly(tmp);
    throw toIoError(namedFor(e, tmp, dir), dir);
  }
}
