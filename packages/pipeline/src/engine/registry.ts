import * as path from 'path';
import { ConfigError, PluginRegistry, RegisterFn, registerCore } from '@certkd/core';
import { registerDatasets } from '@certkd/datasets';
import { registerBounds } from '@certkd/bounds';
import { registerAttacks } from '@certkd/attacks';
import { registerTeachers } from '@certkd/teachers';
import { registerCertifiedLosses } from '@certkd/certified-losses';
import { registerDistillLosses } from '@certkd/distill-losses';

/** Composition roots of the built-in packages, in a declared order. */
export const BUILTIN_PACKAGES: [string, RegisterFn][] = [
  ['@certkd/core', registerCore],
  ['@certkd/datasets', registerDatasets],
  ['@certkd/bounds', registerBounds],
  ['@certkd/attacks', registerAttacks],
  ['@certkd/teachers', registerTeachers],
  ['@certkd/certified-losses', registerCertifiedLosses],
  ['@certkd/distill-losses', registerDistillLosses],
];

/**
 * A registry holding every built-in plugin plus the third-party packages named (each must
 * export `register(registry)`); relative names resolve against `baseDir`.
 */
export function createRegistry(plugins: string[] = [], baseDir = process.cwd()): PluginRegistry {
  const registry = new PluginRegistry();
  for (const [, register] of BUILTIN_PACKAGES) register(registry);
  for (const spec of plugins) {
    const id = spec.startsWith('.') ? path.resolve(baseDir, spec) : spec;
    let mod: { register?: RegisterFn };
    try {
      mod = require(require.resolve(id, { paths: [baseDir, process.cwd()] }));
    } catch (e) {
      throw new ConfigError(`cannot load plugin package '${spec}': ${(e as Error).message.split('\n')[0]}`, undefined, 'plugins');
    }
    if (typeof mod.register !== 'function') throw new ConfigError(`plugin package '${spec}' does not export a register(registry) function`, undefined, 'plugins');
    mod.register(registry);
  }
  return registry;
}
