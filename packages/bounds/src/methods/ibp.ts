import type { InputBox, Network } from '@certkd/core';
import type { BoundOptions, Bounds, Interval } from '../types';
import { Problem, affineTailStart, backwardLower, boundRows, boxInterval, prepare, rowsToBounds, toLowerUpper, tidyBounds } from './engine';

/** IBP forward pass over layers [0, stop), carrying centre/radius; `visit` sees each layer's input interval. Call inside a tidy. */
export function propagateIntervals(p: Omit<Problem, 'box'>, start: Interval, stop: number, visit?: (i: number, iv: Interval) => Interval | void): Interval {
  let iv = start;
  for (let i = 0; i < stop; i++) {
    const replaced = visit?.(i, iv);
    if (replaced) iv = replaced;
    iv = p.rels[i].interval(p.contexts[i], iv);
  }
  return iv;
}

/**
 * Bounds of a spec given the interval entering the affine tail [j, end): the spec is pushed
 * back through the tail exactly (final-layer elision, METHODS 1) and concretised there.
 */
export function specOverTail(p: Omit<Problem, 'box'>, tailStart: number, atTail: Interval): Bounds {
  const rows = backwardLower(p, boundRows(p), p.end, tailStart, atTail, []);
  return rowsToBounds(p, rows);
}

/** Interval bound propagation (METHODS 2). Pixel-space box; differentiable w.r.t. parameters. */
export function ibp(net: Network, box: InputBox, opts?: BoundOptions): Bounds {
  const p = prepare(net, box, opts, 'ibp');
  return tidyBounds(() => {
    const start = boxInterval(box);
    if (p.spec) {
      const j = affineTailStart(p);
      return specOverTail(p, j, propagateIntervals(p, start, j));
    }
    return toLowerUpper(propagateIntervals(p, start, p.end));
  });
}
