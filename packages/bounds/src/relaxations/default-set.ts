import { ConfigError, LAYER_KINDS, LayerKind } from '@certkd/core';
import type { Relaxation, RelaxationSet } from '../types';
import { ReluRelaxation } from './activation';
import { AvgPoolRelaxation } from './avgpool';
import { BatchNormRelaxation } from './batchnorm';
import { Conv2DRelaxation } from './conv2d';
import { DenseRelaxation } from './dense';
import { NormalizeRelaxation } from './normalize';
import { FlattenRelaxation, TapRelaxation } from './reshape';

/** The built-in relaxations, one per layer kind of the IR. */
export function builtinRelaxations(): Relaxation[] {
  return [
    new NormalizeRelaxation(),
    new Conv2DRelaxation(),
    new DenseRelaxation(),
    new BatchNormRelaxation(),
    new ReluRelaxation(),
    new FlattenRelaxation(),
    new AvgPoolRelaxation(),
    new TapRelaxation(),
  ];
}

/** A relaxation set from a list; a later entry for the same layer kind replaces an earlier one. */
export function relaxationSet(relaxations: readonly Relaxation[]): RelaxationSet {
  const m = new Map<LayerKind, Relaxation>();
  for (const r of relaxations) {
    if (!LAYER_KINDS.includes(r.layerKind)) {
      throw new ConfigError(`relaxation '${r.name}' covers unknown layer kind '${r.layerKind}' (kinds: ${LAYER_KINDS.join(', ')})`);
    }
    m.set(r.layerKind, r);
  }
  return m;
}

/** The default relaxation set: the built-ins. */
export function defaultRelaxations(): RelaxationSet {
  return relaxationSet(builtinRelaxations());
}

/** The default set with the given relaxations replacing the built-ins for their layer kinds. */
export function withRelaxations(...replacements: Relaxation[]): RelaxationSet {
  return relaxationSet([...builtinRelaxations(), ...replacements]);
}
