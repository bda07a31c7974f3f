import { z } from 'zod';
import { definePlugin, pluginRegistry, type Attack, type DependencyContainer, type PluginDescriptor } from '@certkd/core';
import { ApgdCe, DEFAULT_APGD_OPTIONS } from './apgd';
import { Fgsm } from './fgsm';
import { DEFAULT_PGD_OPTIONS, Pgd } from './pgd';

export const fgsmOptionsSchema = z
  .object({
    /** Step in units of the box half-width; 2 reaches the signed vertex. */
    stepSize: z.number().positive().default(2),
  })
  .strict();

export const pgdOptionsSchema = z
  .object({
    steps: z.number().int().min(1).default(DEFAULT_PGD_OPTIONS.steps),
    restarts: z.number().int().min(1).default(DEFAULT_PGD_OPTIONS.restarts),
    /** Relative: units of the box half-width (0.035 = "0.035 eps"); absolute: pixel units. */
    stepSize: z.number().positive().default(DEFAULT_PGD_OPTIONS.stepSize),
    stepMode: z.enum(['relative', 'absolute']).default(DEFAULT_PGD_OPTIONS.stepMode),
    randomStart: z.boolean().default(DEFAULT_PGD_OPTIONS.randomStart),
    schedule: z.enum(['constant', 'step-decay']).default(DEFAULT_PGD_OPTIONS.schedule),
    decayFactor: z.number().gt(0).max(1).default(DEFAULT_PGD_OPTIONS.decayFactor),
    /** Fractions of `steps` at which a step-decay schedule multiplies the step by decayFactor. */
    decayMilestones: z.array(z.number().gt(0).lt(1)).default(DEFAULT_PGD_OPTIONS.decayMilestones),
  })
  .strict();

export const apgdOptionsSchema = z
  .object({
    steps: z.number().int().min(2).default(DEFAULT_APGD_OPTIONS.steps),
    restarts: z.number().int().min(1).default(DEFAULT_APGD_OPTIONS.restarts),
    momentum: z.number().min(0).max(1).default(DEFAULT_APGD_OPTIONS.momentum),
    rho: z.number().gt(0).max(1).default(DEFAULT_APGD_OPTIONS.rho),
    initialStep: z.number().positive().default(DEFAULT_APGD_OPTIONS.initialStep),
  })
  .strict();

export const fgsmPlugin = definePlugin<Attack, typeof fgsmOptionsSchema>({
  kind: 'attack',
  name: 'fgsm',
  description: 'FGSM: one signed-gradient step from the clean input (stepSize in box half-widths; 2 = vertex)',
  options: fgsmOptionsSchema,
  create: (o) => new Fgsm(o),
});

export const pgdPlugin = definePlugin<Attack, typeof pgdOptionsSchema>({
  kind: 'attack',
  name: 'pgd',
  description: 'L-inf PGD on cross-entropy: random start, signed steps, restarts, per-sample worst iterate (METHODS 4)',
  options: pgdOptionsSchema,
  create: (o) => new Pgd(o),
});

export const apgdCePlugin = definePlugin<Attack, typeof apgdOptionsSchema>({
  kind: 'attack',
  name: 'apgd-ce',
  description: 'APGD-CE (Croce and Hein 2020): momentum, adaptive step halving at checkpoints, best iterate',
  options: apgdOptionsSchema,
  create: (o) => new ApgdCe(o),
});

/** The attacks package's composition root. */
export function registerAttacks(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const p of [fgsmPlugin, pgdPlugin, apgdCePlugin]) registry.register(p as PluginDescriptor, '@certkd/attacks');
}
