import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, PluginRegistry, RegisterFn, createPluginContainer, pluginRegistry, quoteName, registerCore } from '@certkd/core';
import type { DependencyContainer } from '@certkd/core';
import { registerDatasets } from '@certkd/datasets';
import { registerBounds } from '@certkd/bounds';
import { registerAttacks } from '@certkd/attacks';
import { registerTeachers } from '@certkd/teachers';
import { registerCertifiedLosses } from '@certkd/certified-losses';
import { registerDistillLosses } from '@certkd/distill-losses';
import { registerCertifier } from '@certkd/certifier';
import { registerPipeline } from '../register';

/** Composition roots of the built-in packages, in a declared order. */
export const BUILTIN_PACKAGES: [string, RegisterFn][] = [
  ['@certkd/core', registerCore],
  ['@certkd/datasets', registerDatasets],
  ['@certkd/bounds', registerBounds],
  ['@certkd/attacks', registerAttacks],
  ['@certkd/teachers', registerTeachers],
  ['@certkd/certified-losses', registerCertifiedLosses],
  ['@certkd/distill-losses', registerDistillLosses],
  ['@certkd/certifier', registerCertifier],
  ['@certkd/pipeline', registerPipeline],
];

let root: DependencyContainer | undefined;

/** The process's root container: every built-in plugin, registered once. */
export function rootContainer(): DependencyContainer {
  if (!root) {
    const c = createPluginContainer();
    for (const [, register] of BUILTIN_PACKAGES) register(c);
    root = c;
  }
  return root;
}

/** Where the plugins named in a recipe come from, for checks and messages. */
export interface PluginSource {
  /** Recipe file naming the plugins (errors name it with the field `plugins.<i>`). */
  file?: string;
  /** Allow a path-like plugin outside `baseDir` (`certkd run --allow-external-plugins`). */
  allowExternal?: boolean;
}

/**
 * A run's container: a child of the root container whose registry adds the third-party
 * packages named (each must export `register(container)`). Loading a plugin runs its code.
 * Package names resolve like `require` from `baseDir`; a path (`./x`, `../x`, `/x`) resolves
 * against `baseDir` and must lie inside it unless `source.allowExternal`, so a recipe cannot
 * reach for code elsewhere.
 */
export function createRunContainer(plugins: string[] = [], baseDir = process.cwd(), source: PluginSource = {}): DependencyContainer {
  const container = createPluginContainer(rootContainer());
  plugins.forEach((spec, i) => {
    const field = source.file ? `plugins.${i}` : 'plugins';
    const isPath = spec.startsWith('.') || path.isAbsolute(spec);
    const id = isPath ? path.resolve(baseDir, spec) : spec;
    let resolved: string;
    try {
      resolved = require.resolve(id, { paths: [baseDir, process.cwd()] });
    } catch (e) {
      throw new ConfigError(`cannot load plugin package ${quoteName(spec)}: ${(e as Error).message.split('\n')[0]}`, source.file, field);
    }
    if (isPath && !source.allowExternal && !isInside(resolved, baseDir)) {
      throw new ConfigError(
        `plugin ${quoteName(spec)} resolves to ${resolved}, outside the recipe's folder ${path.resolve(baseDir)}; plugins are code that will run: move it next to the recipe, install it as a package, or pass --allow-external-plugins`,
        source.file,
        field,
      );
    }
    let mod: { register?: RegisterFn };
    try {
      // A plugin is a package or file resolved at run time and loaded synchronously, before the run starts.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(resolved);
    } catch (e) {
      throw new ConfigError(`cannot load plugin package ${quoteName(spec)}: ${(e as Error).message.split('\n')[0]}`, source.file, field);
    }
    if (typeof mod.register !== 'function')
      throw new ConfigError(`plugin package ${quoteName(spec)} does not export a register(container) function`, source.file, field);
    mod.register(container);
  });
  return container;
}

/** The registry of a run container made by createRunContainer (for commands that only look plugins up). */
export function createRegistry(plugins: string[] = [], baseDir = process.cwd(), source: PluginSource = {}): PluginRegistry {
  return pluginRegistry(createRunContainer(plugins, baseDir, source));
}

/** Whether `file` lies inside `dir`, after following symbolic links. */
function isInside(file: string, dir: string): boolean {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const rel = path.relative(real(dir), real(file));
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}
