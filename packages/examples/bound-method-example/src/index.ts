import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, pluginRegistry, type DependencyContainer, type InputBox, type Network } from '@certkd/core';
import { relaxationChoiceSchema, type BoundMethod, type BoundOptions, type Bounds } from '@certkd/bounds';

/**
 * 'ibp-crown-meet': the bound methods 'ibp' and 'crown' of the registry, intersected (the larger
 * lower and the smaller upper bound). Both are sound, so the meet is sound and at least as tight
 * as either.
 */
export class MeetMethod implements BoundMethod {
  readonly name = 'ibp-crown-meet';
  constructor(private readonly methods: readonly BoundMethod[]) {}

  compute(net: Network, box: InputBox, opts?: BoundOptions): Bounds {
    const all = this.methods.map((m) => m.compute(net, box, opts));
    const out = tf.tidy(() => ({
      lower: all.map((b) => b.lower).reduce((a, b) => tf.maximum(a, b)),
      upper: all.map((b) => b.upper).reduce((a, b) => tf.minimum(a, b)),
    }));
    tf.dispose(all.flatMap((b) => [b.lower, b.upper]));
    return out;
  }
}

/** Composition root: registers the 'ibp-crown-meet' bound method (built from the registry's ibp and crown). */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(
    definePlugin({
      kind: 'bound-method',
      name: 'ibp-crown-meet',
      description: 'the meet of the ibp and crown bounds (example bound-method plugin)',
      options: z.object({ relaxations: relaxationChoiceSchema.optional() }).strict(),
      create: (o, s): BoundMethod =>
        new MeetMethod(['ibp', 'crown'].map((m) => s.registry.create('bound-method', m, o.relaxations ? { relaxations: o.relaxations } : {}))),
    }),
    '@certkd/example-bound-method',
  );
}
