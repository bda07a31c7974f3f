import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { PLUGIN_KINDS, PluginKind } from './plugin';
import { PluginCatalog, PluginRegistry } from './registry';
import { PLUGIN_TOKENS, TOKENS } from './tokens';

/**
 * A container for plugins: a child of `parent` (default: tsyringe's global container) holding
 * its own registry, a child of the parent's registry when the parent has one, and one token per
 * kind resolving to that registry's catalogue of the kind. The process's root container and each
 * run's container are made with it; packages register into it with their `register(container)`.
 */
export function createPluginContainer(parent?: DependencyContainer): DependencyContainer {
  const c = (parent ?? globalContainer).createChildContainer();
  const parentRegistry = parent?.isRegistered(TOKENS.Registry, true) ? parent.resolve(TOKENS.Registry) : undefined;
  const registry = new PluginRegistry(parentRegistry);
  c.registerInstance(TOKENS.Registry, registry);
  for (const kind of PLUGIN_KINDS) c.registerInstance(PLUGIN_TOKENS[kind], registry.catalog(kind) as PluginCatalog<PluginKind>);
  return c;
}

/** The registry a container holds (what `register(container)` functions add to). */
export function pluginRegistry(c: DependencyContainer): PluginRegistry {
  return c.resolve(TOKENS.Registry);
}

export type { DependencyContainer } from 'tsyringe';
