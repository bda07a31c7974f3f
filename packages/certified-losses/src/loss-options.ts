import { z } from 'zod';

/** L1 coefficient on all conv/dense kernels (METHODS 5). */
export const l1Option = { l1: z.number().min(0).default(0) };

/** The training attack: radius factor and the built-in attack's steps and size. */
export const attackOptions = {
  trainEpsFactor: z.number().positive().default(1),
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

export function alphaOption(def: number) {
  return { alpha: z.number().min(0).max(1).default(def) };
}

export interface L1Settings {
  l1: number;
}
export interface AttackSettings {
  trainEpsFactor: number;
  attackSteps: number;
  attackStepSize: number;
}
export interface RegulariserSettings {
  regularisers: boolean;
  regulariserWeight: number;
  regulariserTau: number;
}
