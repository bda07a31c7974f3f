import { createPluginContainer, pluginRegistry, type PluginRegistry } from '@certkd/core';
import { registerBounds, relaxationsFromRegistry, type BoundMethod, type RelaxationSet } from '@certkd/bounds';

/**
 * Where the certifier takes its bound methods and relaxations from: plugins of a registry, with
 * an optional relaxation choice per layer kind (`{ relu: 'zero-slope' }`) applied to every
 * method and to ReLU branch and bound.
 */
export interface CertifierBounds {
  /** The bound method plugin `name` (ibp, crown, alpha-crown, ...). */
  method(name: string): BoundMethod;
  /** Relaxation per layer kind for ReLU branch and bound. */
  readonly relaxations: RelaxationSet;
}

/** Bound methods and relaxations resolved from `registry` (a run's or the command's). */
export function certifierBounds(registry: PluginRegistry, relaxations: Record<string, string> = {}, where = 'relaxations'): CertifierBounds {
  const set = relaxationsFromRegistry(registry, relaxations, where);
  const methods = new Map<string, BoundMethod>();
  return {
    relaxations: set,
    method(name) {
      let m = methods.get(name);
      if (!m) methods.set(name, (m = registry.create('bound-method', name, Object.keys(relaxations).length ? { relaxations } : {}, `methods.${name}`)));
      return m;
    },
  };
}

let builtin: CertifierBounds | undefined;

/** The built-in bound methods and relaxations (a container holding @certkd/bounds' plugins), for callers that name none. */
export function builtinCertifierBounds(): CertifierBounds {
  if (!builtin) {
    const c = createPluginContainer();
    registerBounds(c);
    builtin = certifierBounds(pluginRegistry(c));
  }
  return builtin;
}
