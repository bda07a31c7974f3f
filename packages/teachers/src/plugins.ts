import { z } from 'zod';
import { definePlugin, pluginRegistry, type DependencyContainer, type PluginDescriptor, type TrainingLoss } from '@certkd/core';
import { DEFAULT_PGD_AT_OPTIONS, PgdAtLoss } from './pgd-at';
import { DEFAULT_TRADES_OPTIONS, TradesLoss } from './trades';

export const pgdAtOptionsSchema = z
  .object({
    steps: z.number().int().min(1).default(DEFAULT_PGD_AT_OPTIONS.steps),
    /** In units of the box half-width (0.25 = eps/4). */
    stepSize: z.number().positive().default(DEFAULT_PGD_AT_OPTIONS.stepSize),
    restarts: z.number().int().min(1).default(DEFAULT_PGD_AT_OPTIONS.restarts),
    useContextAttack: z.boolean().default(DEFAULT_PGD_AT_OPTIONS.useContextAttack),
  })
  .strict();

export const tradesOptionsSchema = z
  .object({
    beta: z.number().min(0).default(DEFAULT_TRADES_OPTIONS.beta),
    steps: z.number().int().min(1).default(DEFAULT_TRADES_OPTIONS.steps),
    stepSize: z.number().positive().default(DEFAULT_TRADES_OPTIONS.stepSize),
    restarts: z.number().int().min(1).default(DEFAULT_TRADES_OPTIONS.restarts),
  })
  .strict();

export const pgdAtPlugin = definePlugin<TrainingLoss, typeof pgdAtOptionsSchema>({
  kind: 'teacher',
  name: 'pgd-at',
  description: 'PGD adversarial training (Madry et al. 2018): CE on PGD examples at the scheduled eps',
  options: pgdAtOptionsSchema,
  create: (o) => new PgdAtLoss(o),
});

export const tradesPlugin = definePlugin<TrainingLoss, typeof tradesOptionsSchema>({
  kind: 'teacher',
  name: 'trades',
  description: 'TRADES (Zhang et al. 2019): CE(f(x)) + beta KL(f(x) || f(x_adv)), x_adv maximising the KL',
  options: tradesOptionsSchema,
  create: (o) => new TradesLoss(o),
});

/** The teachers package's composition root. */
export function registerTeachers(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const p of [pgdAtPlugin, tradesPlugin]) registry.register(p as PluginDescriptor, '@certkd/teachers');
}
