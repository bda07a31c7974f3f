import { z } from 'zod';
import { PluginRegistry, definePlugin } from '@certkd/core';
import type { Relaxation } from '@certkd/bounds';
import { ZeroSlopeRelu } from './zero-slope-relu';

export { ZeroSlopeRelu } from './zero-slope-relu';

/** Composition root: registers the 'zero-slope' relaxation (layer kind 'relu'). */
export function registerZeroSlope(registry: PluginRegistry): void {
  registry.register(
    definePlugin({
      kind: 'relaxation',
      name: 'zero-slope',
      description: "ReLU relaxation with lower slope 0 for unstable neurons (use with relaxations: { relu: 'zero-slope' })",
      options: z.object({}).strict(),
      create: (): Relaxation => new ZeroSlopeRelu(),
    }),
    '@certkd/example-relaxation-zero-slope',
  );
}
