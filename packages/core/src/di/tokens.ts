import type { InjectionToken } from 'tsyringe';
import type { PluginRegistry } from './registry';
import type { SeededRng } from '../rng/seeded-rng';
import type { BackendInfo } from '../backend/backend-loader';

/** DI tokens for the shared services; plugin classes receive them with @inject(TOKENS.X). */
export const TOKENS = {
  Registry: Symbol.for('certkd.Registry') as InjectionToken<PluginRegistry>,
  Rng: Symbol.for('certkd.Rng') as InjectionToken<SeededRng>,
  Backend: Symbol.for('certkd.Backend') as InjectionToken<BackendInfo>,
  Clock: Symbol.for('certkd.Clock') as InjectionToken<Clock>,
  Logger: Symbol.for('certkd.Logger') as InjectionToken<Logger>,
} as const;

export interface Clock {
  now(): number;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** A package's composition root: registers its plugins into the registry. */
export type RegisterFn = (registry: PluginRegistry) => void;
