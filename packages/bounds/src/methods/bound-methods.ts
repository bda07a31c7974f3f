import type { InputBox, Network } from '@certkd/core';
import { ConfigError } from '@certkd/core';
import type { BoundMethod, BoundOptions, Bounds, RelaxationSet } from '../types';
import { AlphaCrownOptions, alphaCrown } from './alpha-crown';
import { crown, crownIbp } from './crown';
import { ibp } from './ibp';

export const BOUND_METHOD_NAMES = ['ibp', 'crown-ibp', 'crown', 'alpha-crown'] as const;
export type BoundMethodName = (typeof BOUND_METHOD_NAMES)[number];

type Fn = (net: Network, box: InputBox, opts?: BoundOptions) => Bounds;

/** A bound method bound to a relaxation set (the one in BoundOptions, if given, wins). */
class FunctionMethod implements BoundMethod {
  constructor(
    readonly name: string,
    private readonly fn: Fn,
    private readonly relaxations?: RelaxationSet,
  ) {}

  compute(net: Network, box: InputBox, opts?: BoundOptions): Bounds {
    return this.fn(net, box, { ...opts, relaxations: opts?.relaxations ?? this.relaxations });
  }
}

/** Create a built-in bound method by name, optionally over a given relaxation set. */
export function createBoundMethod(name: BoundMethodName | string, relaxations?: RelaxationSet, alpha?: AlphaCrownOptions): BoundMethod {
  switch (name) {
    case 'ibp':
      return new FunctionMethod(name, ibp, relaxations);
    case 'crown-ibp':
      return new FunctionMethod(name, crownIbp, relaxations);
    case 'crown':
      return new FunctionMethod(name, crown, relaxations);
    case 'alpha-crown':
      return new FunctionMethod(name, (n, b, o) => alphaCrown(n, b, { ...alpha, ...o }), relaxations);
    default:
      throw new ConfigError(`unknown bound method '${name}' (methods: ${BOUND_METHOD_NAMES.join(', ')})`, undefined, 'method');
  }
}
