import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '@certkd/core';

/** The cache folder: the given one or <tmp>/certkd-cache. */
export function cacheRoot(cacheDir?: string): string {
  const dir = cacheDir ?? path.join(os.tmpdir(), 'certkd-cache');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** True when `<file>.json` records exactly `key` and `file` has `size` bytes. */
export function cacheValid(file: string, key: string, size: number): boolean {
  try {
    const meta = JSON.parse(fs.readFileSync(file + '.json', 'utf8')) as { key?: string };
    return meta.key === key && fs.statSync(file).size === size;
  } catch {
    return false;
  }
}

/** Record `key` for a cache file just written. */
export function markCache(file: string, key: string): void {
  writeFileAtomic(file + '.json', JSON.stringify({ key }));
}
