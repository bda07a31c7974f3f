import { z } from 'zod';
import { definePlugin, pluginRegistry } from '@certkd/core';
import type { DependencyContainer, Network } from '@certkd/core';
import { relaxationChoiceSchema } from '@certkd/bounds';
import { VERIFY_METHODS, VerifyOptions, verifyProperty } from './verify';
import type { Property } from './property';
import type { Verdict } from './verdict';
import { CertifierBounds, certifierBounds } from './bound-source';
import { CertifyPointsRunOptions, PointsSummary, certifyPoints } from './points';

/** What a certifier-stage plugin creates: complete verification of properties and of dataset points. */
export interface CertifierStage {
  readonly name: string;
  /** The bound methods and relaxations it uses (resolved from the registry that created it). */
  readonly bounds: CertifierBounds;
  certify(net: Network, property: Property, extra?: Pick<VerifyOptions, 'falsifier' | 'rng' | 'startMs'>): Verdict;
  /** Local robustness of dataset points (flat pixel-space inputs, int labels), streamed to `run.out`. */
  certifyPoints(
    net: Network,
    xs: Float32Array,
    labels: Int32Array,
    run: Omit<CertifyPointsRunOptions, 'methods' | 'timeoutS' | 'bounds'>,
  ): Promise<PointsSummary>;
}

declare module '@certkd/core' {
  interface PluginContracts {
    'certifier-stage': CertifierStage;
  }
}

export const escalationOptions = z
  .object({
    methods: z.array(z.enum(VERIFY_METHODS)).default([...VERIFY_METHODS]),
    timeoutS: z.number().positive().default(60),
    branchAndBound: z.boolean().default(true),
    babMethod: z.enum(VERIFY_METHODS).default('crown'),
    babMode: z.enum(['auto', 'input', 'relu']).default('auto'),
    babIters: z.number().int().min(0).default(8),
    /** Relaxation plugin per layer kind for every bound method and ReLU branch and bound, e.g. { relu: zero-slope }. */
    relaxations: relaxationChoiceSchema.default({}),
  })
  .strict();

/** Composition root of @certkd/certifier. */
export function registerCertifier(container: DependencyContainer): void {
  pluginRegistry(container).register(
    definePlugin({
      kind: 'certifier-stage',
      name: 'escalation',
      description:
        'falsify (centre, attack, projected gradient) then ibp -> crown -> alpha-crown -> branch and bound (input splitting for small inputs, else ReLU splitting with alpha/beta-CROWN)',
      options: escalationOptions,
      create: ({ relaxations, ...o }, s): CertifierStage => {
        const bounds = certifierBounds(s.registry, relaxations);
        const custom = Object.keys(relaxations).length > 0;
        return {
          name: 'escalation',
          bounds,
          certify: (net, property, extra) => verifyProperty(net, property, { ...o, ...extra, bounds }),
          // Worker threads build their own built-in bounds, so a chosen relaxation set stays in this thread.
          certifyPoints: (net, xs, labels, run) =>
            certifyPoints(net, xs, labels, {
              ...run,
              methods: o.methods,
              timeoutS: o.timeoutS,
              bounds: custom ? bounds : undefined,
              verify: { ...run.verify, branchAndBound: o.branchAndBound, babMethod: o.babMethod, babMode: o.babMode, babIters: o.babIters },
            }),
        };
      },
    }),
    '@certkd/certifier',
  );
}
