import { BackendChoice, CertkdError, ConfigError, DatasetSource, loadBackend } from '@certkd/core';
import { createRegistry } from '@certkd/pipeline';

export async function useBackend(name: string | undefined, quiet = false): Promise<void> {
  const b = await loadBackend((name ?? 'auto') as BackendChoice);
  if (!quiet) process.stderr.write(`certkd: backend ${b.name} (${b.detail})\n`);
}

/** A finite number, at least `min` when given (empty strings, NaN and Infinity are refused). */
export function parseNumber(v: string, flag: string, min?: number): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got '${v}'`, undefined, flag);
  if (min !== undefined && n < min) throw new ConfigError(`must be at least ${min}, got '${v}'`, undefined, flag);
  return n;
}

/** A finite number greater than zero. */
export function parsePositive(v: string, flag: string): number {
  const n = parseNumber(v, flag);
  if (n <= 0) throw new ConfigError(`must be a positive number, got '${v}'`, undefined, flag);
  return n;
}

/** An integer in [min, Number.MAX_SAFE_INTEGER] (1.5, 1e400, '' and hex are refused). */
export function parseInteger(v: string, flag: string, min: number): number {
  const n = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`;
    throw new ConfigError(`must be ${what}, got '${v}'`, undefined, flag);
  }
  return n;
}

/** A comma list of names, each checked against the allowed ones. */
export function parseList<T extends string>(list: string, allowed: readonly T[], flag: string): T[] {
  const names = list.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(allowed as readonly string[]).includes(n)) throw new ConfigError(`unknown value '${n}'; allowed: ${allowed.join(', ')}`, undefined, flag);
  }
  return names as T[];
}

/** The dataset named by `--dataset` (its test points are read later); an unknown name exits 2 naming the flag. */
export function datasetSource(name: string): DatasetSource {
  try {
    return createRegistry().create<DatasetSource>('dataset', name, {}, undefined, '--dataset');
  } catch (e) {
    if (e instanceof CertkdError && !(e instanceof ConfigError)) throw new ConfigError(e.message, undefined, '--dataset');
    throw e;
  }
}
