import * as tf from '@tensorflow/tfjs-core';
import type { InputBox, Network } from '@certkd/core';
import type { BoundMethod, BoundOptions } from './types';
import { createBoundMethod } from './methods/bound-methods';

/** Plain-number bounds for `certkd bounds --json`. Arrays are per sample; activations flattened. */
export interface BoundReport {
  method: string;
  out_lower: number[][];
  out_upper: number[][];
  /** Bounds of C f(x), [N][M]; null without a spec. */
  spec_lower: number[][] | null;
  spec_upper: number[][] | null;
  /** Wall time of the bound computations, seconds. */
  time_s: number;
}

function rows(t: tf.Tensor): number[][] {
  const flat = tf.reshape(t, [t.shape[0], -1]);
  try {
    return flat.arraySync() as number[][];
  } finally {
    flat.dispose();
  }
}

/** Output bounds (and spec bounds when a spec is given) of `method` over the pixel-space box. */
export function boundReport(
  net: Network,
  box: InputBox,
  method: string | BoundMethod,
  spec?: tf.Tensor3D,
  opts: Omit<BoundOptions, 'spec' | 'end'> = {},
): BoundReport {
  const m = typeof method === 'string' ? createBoundMethod(method) : method;
  const t0 = performance.now();
  const out = m.compute(net, box, opts);
  const sb = spec ? m.compute(net, box, { ...opts, spec }) : undefined;
  const time_s = (performance.now() - t0) / 1000;
  try {
    return {
      method: m.name,
      out_lower: rows(out.lower),
      out_upper: rows(out.upper),
      spec_lower: sb ? rows(sb.lower) : null,
      spec_upper: sb ? rows(sb.upper) : null,
      time_s,
    };
  } finally {
    tf.dispose([out.lower, out.upper, ...(sb ? [sb.lower, sb.upper] : [])]);
  }
}
