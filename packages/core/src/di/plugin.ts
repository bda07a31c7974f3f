import { z } from 'zod';
import type { DatasetSource } from '../contracts/dataset';
import type { ArchitectureBuilder } from '../network/architectures';
import type { Attack } from '../contracts/attack';
import type { TrainingLoss } from '../contracts/loss';
import type { PluginRegistry } from './registry';

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
 * What a plugin of each kind creates. Core declares the kinds whose contracts it owns; the
 * package owning a contract adds its kind by declaration merging
 * (`declare module '@certkd/core' { interface PluginContracts { relaxation: Relaxation } }`),
 * so `registry.create('relaxation', ...)` is typed without casts wherever that package is imported.
 */
export interface PluginContracts {
  dataset: DatasetSource;
  architecture: ArchitectureBuilder;
  attack: Attack;
  teacher: TrainingLoss;
  'certified-loss': TrainingLoss;
  'distill-loss': TrainingLoss;
}

/** The contract of kind K (unknown until the package owning it is imported). */
export type ContractOf<K extends PluginKind> = K extends keyof PluginContracts ? PluginContracts[K] : unknown;

/**
 * A plugin: a named, described factory with a zod schema for its options. `create` receives
 * parsed options and the run's services; it never looks up the container itself.
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

/**
 * Services handed to plugin factories: the registry of the run creating the plugin (so a
 * plugin built from other plugins, such as a bound method from relaxations, sees the run's
 * third-party plugins too).
 */
export interface PluginServices {
  registry: PluginRegistry;
}

/** Helper for type inference: `definePlugin({...})`. */
export function definePlugin<T, S extends z.ZodType>(d: Omit<PluginDescriptor<T, z.output<S>>, 'options'> & { options: S }): PluginDescriptor<T, z.output<S>> {
  return d as unknown as PluginDescriptor<T, z.output<S>>;
}
