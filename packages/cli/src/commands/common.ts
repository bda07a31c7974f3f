import { BackendChoice, ConfigError, loadBackend } from '@certkd/core';


export async function useBackend(name: string | undefined, quiet = false): Promise<void> {
  const b = await loadBackend((name ?? 'auto') as BackendChoice);
  if (!quiet) process.stderr.write(`certkd: backend ${b.name} (${b.detail})\n`);
}

export function parseNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got '${v}'`, undefined, flag);
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
