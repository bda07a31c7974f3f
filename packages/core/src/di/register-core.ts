import { z } from 'zod';
import { PluginRegistry } from './registry';
import { ARCHITECTURES, ArchitectureBuilder } from '../network/architectures';

/** Core's composition root: the built-in architectures. */
export function registerCore(registry: PluginRegistry): void {
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
