import { ConfigError } from '../../errors/errors';
import type { LayerKindModule } from './layer-kind';
import { avgpoolKind } from './avgpool';
import { batchnormKind } from './batchnorm';
import { conv2dKind } from './conv2d';
import { denseKind } from './dense';
import { flattenKind } from './flatten';
import { normalizeKind } from './normalize';
import { reluKind } from './relu';
import { tapKind } from './tap';

/**
 * Every layer kind of the IR, one module each. Adding a kind is one new module in this folder
 * plus its line here; LayerSpec, LAYER_KINDS, the spec schema, shape inference, parameters,
 * the forward pass and interval propagation all follow from this table.
 */
export const LAYER_KIND_MODULES = [normalizeKind, conv2dKind, denseKind, batchnormKind, reluKind, flattenKind, avgpoolKind, tapKind] as const;

type SpecOf<M> = M extends LayerKindModule<infer L> ? L : never;
/** One layer of the IR: the spec type of some module in the table. */
export type LayerSpec = SpecOf<(typeof LAYER_KIND_MODULES)[number]>;
export type LayerKind = LayerSpec['kind'];

const byKind = new Map<string, LayerKindModule>(LAYER_KIND_MODULES.map((m) => [m.kind, m as unknown as LayerKindModule]));

/** The module of a layer kind; a ConfigError naming the known kinds for any other. */
export function layerKindModule<L extends LayerSpec>(kind: L['kind'] | string): LayerKindModule<L> {
  const m = byKind.get(kind);
  if (!m) throw new ConfigError(`unknown layer kind '${kind}' (kinds: ${[...byKind.keys()].join(', ')})`);
  return m as unknown as LayerKindModule<L>;
}
