import { BackendChoice, CertkdError, ConfigError, DatasetSource, Network, PluginRegistry, loadBackend } from '@certkd/core';
import { createRegistry } from '@certkd/pipeline';
import { CertifierBounds, certifierBounds } from '@certkd/certifier';
import { checkRelaxations } from '@certkd/pipeline';

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

/** The plugins a command uses: the built-ins plus the packages of `--plugin` (named by the user, so paths anywhere are fine). */
export function commandRegistry(plugins: string[] = []): PluginRegistry {
  return createRegistry(plugins, process.cwd(), { allowExternal: true });
}

/** `--relaxation relu=zero-slope` (repeatable, or comma-separated): the relaxation plugin per layer kind. */
export function parseRelaxations(values: string[] | undefined, registry: PluginRegistry): Record<string, string> {
  const choice: Record<string, string> = {};
  for (const item of (values ?? []).flatMap((v) => v.split(','))) {
    const m = /^\s*([a-z0-9-]+)\s*=\s*([a-z0-9-]+)\s*$/.exec(item);
    if (!m) throw new ConfigError(`expected KIND=RELAXATION (e.g. relu=zero-slope), got '${item}'`, undefined, '--relaxation');
    choice[m[1]] = m[2];
  }
  checkRelaxations(registry, undefined, choice, '--relaxation');
  return choice;
}

/** The certifier's bound methods and relaxations from the command's registry (`--relaxation`, `--plugin`). */
export function commandBounds(registry: PluginRegistry, relaxations: Record<string, string>): CertifierBounds {
  return certifierBounds(registry, relaxations, '--relaxation');
}

/** The dataset named by `--dataset` (its test points are read later); an unknown name exits 2 naming the flag. */
export function datasetSource(name: string, registry: PluginRegistry = commandRegistry()): DatasetSource {
  try {
    return registry.create('dataset', name, {}, '--dataset');
  } catch (e) {
    if (e instanceof CertkdError && !(e instanceof ConfigError)) throw new ConfigError(e.message, undefined, '--dataset');
    throw e;
  }
}

/**
 * The first `count` test points of a dataset (flat, in the dataset's [H, W, C] order) for a model,
 * after checking that the model takes inputs of that size (else a ConfigError naming the model file).
 */
export async function firstTestPoints(
  source: DatasetSource,
  dataset: string,
  dataRoot: string | undefined,
  network: Network,
  file: string,
  count: number,
): Promise<{ x: Float32Array; y: Int32Array; n: number }> {
  const ds = await source.load({ root: dataRoot });
  const d = network.widthAt(0);
  if (d !== ds.test.shape.reduce((a, b) => a * b, 1))
    throw new ConfigError(`the model takes ${d} inputs but ${dataset} images have ${ds.test.shape.join('x')}`, file);
  const n = Math.min(count, ds.test.size);
  const { x, y } = ds.test.read(Array.from({ length: n }, (_, i) => i));
  return { x, y, n };
}
