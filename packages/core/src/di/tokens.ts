import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { PluginRegistry, PluginCatalog } from './registry';
import { PLUGIN_KINDS, PluginKind } from './plugin';

/** DI tokens for the shared services of a container. */
export const TOKENS = {
  Registry: Symbol.for('certkd.Registry') as InjectionToken<PluginRegistry>,
} as const;

/** One typed token per plugin kind; each resolves to the kind's catalogue in the resolving container. */
export const PLUGIN_TOKENS = Object.fromEntries(PLUGIN_KINDS.map((k) => [k, Symbol.for(`certkd.plugins.${k}`)])) as {
  [K in PluginKind]: InjectionToken<PluginCatalog<K>>;
};

/** A package's composition root: registers its plugins into the container's registry. */
export type RegisterFn = (container: DependencyContainer) => void;
