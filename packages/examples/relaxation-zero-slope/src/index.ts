import { z } from 'zod';
import { definePlugin, pluginRegistry, type DependencyContainer } from '@certkd/core';
import type { Relaxation } from '@certkd/bounds';
import { ZeroSlopeRelu } from './zero-slope-relu';

export { ZeroSlopeRelu } from './zero-slope-relu';

/** Composition root: registers the 'zero-slope' relaxation (layer kind 'relu'). */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(
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
