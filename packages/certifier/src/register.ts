import { z } from 'zod';
import { PluginRegistry, definePlugin } from '@certkd/core';
import type { Network } from '@certkd/core';
import { VERIFY_METHODS, VerifyOptions, verifyProperty } from './verify';
import type { Property } from './property';
import type { Verdict } from './verdict';

/** What the 'escalation' certifier-stage plugin creates. */
export interface CertifierStage {
  readonly name: string;
  certify(net: Network, property: Property, extra?: Pick<VerifyOptions, 'falsifier' | 'rng'>): Verdict;
}

const escalationOptions = z
  .object({
    methods: z.array(z.enum(VERIFY_METHODS)).default([...VERIFY_METHODS]),
    timeoutS: z.number().positive().default(60),
    branchAndBound: z.boolean().default(true),
    babMethod: z.enum(VERIFY_METHODS).default('crown'),
    babMode: z.enum(['auto', 'input', 'relu']).default('auto'),
    babIters: z.number().int().min(0).default(8),
  })
  .strict();

/** Composition root of @certkd/certifier. */
export function registerCertifier(registry: PluginRegistry): void {
  registry.register(
    definePlugin({
      kind: 'certifier-stage',
      name: 'escalation',
      description: 'falsify (centre, attack, projected gradient) then ibp -> crown -> alpha-crown -> branch and bound (input splitting for small inputs, else ReLU splitting with alpha/beta-CROWN)',
      options: escalationOptions,
      create: (o): CertifierStage => ({
        name: 'escalation',
        certify: (net, property, extra) => verifyProperty(net, property, { ...o, ...extra }),
      }),
    }),
    '@certkd/certifier',
  );
}
