import * as fs from 'fs';
import * as path from 'path';

/** Write a file atomically: write a temp file in the same folder, fsync, rename over the target. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Replace a directory atomically: `fill` writes into a fresh temp directory that is then
 * renamed into place; the old directory (if any) is removed only after the rename.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let old: string | undefined;
  if (fs.existsSync(dir)) {
    old = `${tmp}.old`;
    fs.renameSync(dir, old);
  }
  fs.renameSync(tmp, dir);
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
