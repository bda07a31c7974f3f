import { z } from 'zod';
import { relaxationChoiceSchema, relaxationsFromRegistry, type RelaxationSet } from '@certkd/bounds';
import type { PluginRegistry } from '@certkd/core';

/** L1 coefficient on all conv/dense kernels (METHODS 5). */
export const l1Option = { l1: z.number().min(0).default(0) };

/**
 * An option name that no longer exists: refused whenever it is given, with a message naming
 * what replaces it (old recipes are never silently reinterpreted).
 */
export function removedOption(message: string) {
  return z.never({ error: message }).optional();
}

/**
 * The removed `trainEpsFactor` scaled the attack only, which is neither of the reference's two
 * multipliers (METHODS 5).
 */
export const TRAIN_EPS_FACTOR_REMOVED =
  'trainEpsFactor was removed: use trainEpsMul to scale the whole training radius (IBP box and attack; MNIST: 2.0 at 0.1, 1.334 at 0.3) or attackEpsFactor to scale the attack only (CIFAR-10 2/255: 2.1)';

/**
 * The training radius (METHODS 5): while training, eps_train = trainEpsMul * eps_t (the
 * scheduled eps) is the radius of the IBP box and of the attack. Evaluation uses the test eps.
 */
export const radiusOptions = {
  trainEpsMul: z.number().positive().default(1),
  trainEpsFactor: removedOption(TRAIN_EPS_FACTOR_REMOVED),
};

/**
 * The training attack (METHODS 4/5): its radius eps_att = attackEpsFactor * eps_train (the IBP
 * box stays at eps_train), and the built-in attack's steps and size.
 */
export const attackOptions = {
  ...radiusOptions,
  attackEpsFactor: z.number().positive().default(1),
  attackSteps: z.number().int().min(1).default(1),
  attackStepSize: z.number().positive().default(10),
};

/** Shi et al. 2021 regularisers (METHODS 6): on/off, weight lambda, tolerance tau. */
export function regulariserOptions(enabledByDefault: boolean) {
  return {
    regularisers: z.boolean().default(enabledByDefault),
    regulariserWeight: z.number().min(0).default(0.5),
    regulariserTau: z.number().positive().default(0.5),
  };
}

/**
 * The relaxation plugin per layer kind for the loss's CROWN-style bounds, e.g.
 * `relaxations: { relu: zero-slope }`; resolved through the registry of the run creating the
 * loss, so a recipe's third-party relaxations can be named. Default: the built-ins.
 */
export const relaxationOption = { relaxations: relaxationChoiceSchema.optional() };

/** The relaxation set a loss's `relaxations` option names, or undefined (the built-ins) when it names none. */
export function lossRelaxations(registry: PluginRegistry, choice: Record<string, string> | undefined): RelaxationSet | undefined {
  return choice && Object.keys(choice).length ? relaxationsFromRegistry(registry, choice, 'relaxations') : undefined;
}

export function alphaOption(def: number) {
  return { alpha: z.number().min(0).max(1).default(def) };
}

export interface L1Settings {
  l1: number;
}
export interface RadiusSettings {
  trainEpsMul: number;
}
export interface AttackSettings extends RadiusSettings {
  attackEpsFactor: number;
  attackSteps: number;
  attackStepSize: number;
}
export interface RegulariserSettings {
  regularisers: boolean;
  regulariserWeight: number;
  regulariserTau: number;
}
