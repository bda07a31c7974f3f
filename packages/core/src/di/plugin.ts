import { z } from 'zod';
import type { DependencyContainer } from 'tsyringe';

/** Every kind of plugin CertKD knows. */
export const PLUGIN_KINDS = [
  'dataset',
  'architecture',
  'relaxation',
  'bound-method',
  'attack',
  'teacher',
  'certified-loss',
  'distill-loss',
  'certifier-stage',
  'stage',
  'sink',
] as const;
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/**
 * A plugin: a named, described factory with a zod schema for its options. `create` receives
 * parsed options and the container's services; it never looks up the container itself.
 */
export interface PluginDescriptor<T = unknown, O = unknown> {
  kind: PluginKind;
  name: string;
  description: string;
  options: z.ZodType<O>;
  create(options: O, services: PluginServices): T;
  /** Package that registered it (filled by the registry when given). */
  source?: string;
}

/** Shared services handed to plugin factories. */
export interface PluginServices {
  container: DependencyContainer;
}

/** Helper for type inference: `definePlugin({...})`. */
export function definePlugin<T, S extends z.ZodType>(
  d: Omit<PluginDescriptor<T, z.output<S>>, 'options'> & { options: S },
): PluginDescriptor<T, z.output<S>> {
  return d as unknown as PluginDescriptor<T, z.output<S>>;
}
