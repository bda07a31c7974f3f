import { z } from 'zod';
import type { DependencyContainer } from 'tsyringe';
import { pluginRegistry } from './container';
import { ARCHITECTURES, ArchitectureBuilder } from '../network/architectures';

/** Core's composition root: the built-in architectures. */
export function registerCore(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const a of ARCHITECTURES) {
    registry.register(
      {
        kind: 'architecture',
        name: a.name,
        description: a.description,
        options: z.object({}).passthrough(),
        create: (): ArchitectureBuilder => a,
      },
      '@certkd/core',
    );
  }
}
