import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, DataError } from '@certkd/core';

/** One VNN-COMP benchmark instance. */
export interface VnncompInstance {
  onnx: string;
  vnnlib: string;
  /** Seconds. */
  timeout: number;
  /**
   * The onnx and vnnlib cells as the csv row writes them (relative to the csv's folder as a
   * rule): what identifies the instance, whatever the files' base names. Absent for rows
   * built in code.
   */
  listed?: { onnx: string; vnnlib: string };
}

/**
 * Read a VNN-COMP instances.csv (`onnx,vnnlib,timeout` per row, no header). Paths come back
 * resolved against the csv's folder; where a listed file is missing but its gzip twin
 * (`.gz` added or removed) exists, the twin is returned. `listed` keeps the cells as written.
 */
export function readInstancesCsv(file: string): VnncompInstance[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read the instances file: ${(e as Error).message}`, file);
  }
  const dir = path.dirname(path.resolve(file));
  const rows: VnncompInstance[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 3) throw new DataError(`line ${i + 1}: expected 'onnx,vnnlib,timeout', found ${cells.length} fields`, file);
    const timeout = Number(cells[2]);
    if (!(timeout > 0) || !Number.isFinite(timeout)) throw new DataError(`line ${i + 1}: timeout '${cells[2]}' is not a positive number`, file);
    rows.push({ onnx: locate(dir, cells[0]), vnnlib: locate(dir, cells[1]), timeout, listed: { onnx: cells[0], vnnlib: cells[1] } });
  });
  return rows;
}

function locate(dir: string, rel: string): string {
  const p = path.resolve(dir, rel);
  if (fs.existsSync(p)) return p;
  const twin = p.endsWith('.gz') ? p.slice(0, -3) : `${p}.gz`;
  return fs.existsSync(twin) ? twin : p;
}

/** VNN-COMP instances.csv text for the given rows (paths written as given, no header). */
export function writeInstancesCsv(rows: VnncompInstance[]): string {
  return rows
    .map((r, i) => {
      for (const [k, v] of [
        ['onnx', r.onnx],
        ['vnnlib', r.vnnlib],
      ] as const) {
        if (!v || /[,\r\n]/.test(v)) throw new ConfigError(`row ${i}: ${k} path '${v}' is empty or contains a comma or newline`, undefined, k);
      }
      if (!(r.timeout > 0) || !Number.isFinite(r.timeout))
        throw new ConfigError(`row ${i}: timeout ${r.timeout} must be a positive number`, undefined, 'timeout');
      return `${r.onnx},${r.vnnlib},${r.timeout}\n`;
    })
    .join('');
}
