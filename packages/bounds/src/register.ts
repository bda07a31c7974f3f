import { z } from 'zod';
import { ConfigError, LAYER_KINDS, LayerKind, PluginRegistry, definePlugin, pluginRegistry } from '@certkd/core';
import type { DependencyContainer } from '@certkd/core';
import type { BoundMethod, Relaxation, RelaxationSet } from './types';
import { builtinRelaxations } from './relaxations/default-set';
import { BOUND_METHOD_NAMES, createBoundMethod } from './methods/bound-methods';

const SOURCE = '@certkd/bounds';

/**
 * The relaxation set a bound method plugin uses: for each layer kind, the relaxation plugin
 * named after the kind, unless `choices` names another (e.g. { relu: 'zero-slope' }).
 */
export function relaxationsFromRegistry(registry: PluginRegistry, choices: Partial<Record<string, string>> = {}, where = 'relaxations'): RelaxationSet {
  for (const k of Object.keys(choices)) {
    if (!LAYER_KINDS.includes(k as LayerKind)) {
      throw new ConfigError(`unknown layer kind '${k}' (kinds: ${LAYER_KINDS.join(', ')})`, undefined, `${where}.${k}`);
    }
  }
  const m = new Map<LayerKind, Relaxation>();
  for (const kind of LAYER_KINDS) {
    const name = choices[kind] ?? kind;
    if (!choices[kind] && !registry.has('relaxation', name)) continue;
    const rel = registry.create('relaxation', name, {}, `${where}.${kind}`);
    if (rel.layerKind !== kind) {
      throw new ConfigError(`relaxation '${name}' covers layer kind '${rel.layerKind}', not '${kind}'`, undefined, `${where}.${kind}`);
    }
    m.set(kind, rel);
  }
  return m;
}

/** `{ relu: 'zero-slope' }`: the relaxation plugin to use per layer kind (default: the one named after the kind). */
export const relaxationChoiceSchema = z.record(z.string(), z.string());
const relaxationChoice = relaxationChoiceSchema.optional();

declare module '@certkd/core' {
  interface PluginContracts {
    relaxation: Relaxation;
    'bound-method': BoundMethod;
  }
}

/**
 * Composition root of @certkd/bounds: the built-in relaxations and the four bound methods. A
 * bound method takes its relaxations from the registry creating it (a run's registry sees the
 * run's third-party relaxations).
 */
export function registerBounds(container: DependencyContainer): void {
  const registry = pluginRegistry(container);
  for (const rel of builtinRelaxations()) {
    registry.register(
      definePlugin({
        kind: 'relaxation',
        name: rel.name,
        description: `built-in relaxation of '${rel.layerKind}' layers`,
        options: z.object({}).strict(),
        create: (): Relaxation => rel,
      }),
      SOURCE,
    );
  }
  const descriptions: Record<(typeof BOUND_METHOD_NAMES)[number], string> = {
    ibp: 'interval bound propagation (centre/radius)',
    'crown-ibp': 'CROWN backward pass with IBP intermediate bounds',
    crown: 'CROWN with CROWN intermediate bounds, intersected with IBP',
    'alpha-crown': 'CROWN with lower ReLU slopes optimised per output row',
  };
  for (const name of BOUND_METHOD_NAMES) {
    if (name === 'alpha-crown') {
      registry.register(
        definePlugin({
          kind: 'bound-method',
          name,
          description: descriptions[name],
          options: z
            .object({ relaxations: relaxationChoice, iterations: z.number().int().min(0).default(20), lr: z.number().positive().default(0.1) })
            .strict(),
          create: (o, s): BoundMethod => createBoundMethod(name, relaxationsFromRegistry(s.registry, o.relaxations), { iterations: o.iterations, lr: o.lr }),
        }),
        SOURCE,
      );
    } else {
      registry.register(
        definePlugin({
          kind: 'bound-method',
          name,
          description: descriptions[name],
          options: z.object({ relaxations: relaxationChoice }).strict(),
          create: (o, s): BoundMethod => createBoundMethod(name, relaxationsFromRegistry(s.registry, o.relaxations)),
        }),
        SOURCE,
      );
    }
  }
}
