import * as tf from '@tensorflow/tfjs-core';
import type { InputBox, Network } from '@certkd/core';
import type { BoundOptions, Bounds, Interval, LowerUpper } from '../types';
import {
  Problem,
  affineTailStart,
  backwardLower,
  backwardLowerChunked,
  boundRows,
  boxInterval,
  prepare,
  rowsToBounds,
  toInterval,
  toLowerUpper,
  tidyBounds,
} from './engine';
import { FLOPS_PER_STEP, backwardBytes, backwardFlopsPerRow } from './memory';
import { propagateIntervals, specOverTail } from './ibp';

/**
 * Floats one A matrix of a refinement pass may hold ([N, rows, ...widest activation]) at
 * most; the pre-activation neurons are bounded in chunks that fit it and the memory budget.
 */
export const ROW_BUDGET = 1 << 22;

/**
 * CROWN-IBP: one backward pass from the output (or the spec) with IBP bounds for every
 * intermediate layer (METHODS 3). Differentiable w.r.t. parameters.
 */
export function crownIbp(net: Network, box: InputBox, opts?: BoundOptions): Bounds {
  const p = prepare(net, box, opts, 'crown-ibp');
  return tidyBounds(() => {
    const base = boxInterval(box);
    const pre: (LowerUpper | undefined)[] = [];
    let last = 0;
    for (let i = 0; i < p.end; i++) if (p.rels[i].needsInputBounds) last = i + 1;
    propagateIntervals(p, base, last, (i, iv) => {
      if (p.rels[i].needsInputBounds) pre[i] = toLowerUpper(iv);
    });
    return rowsToBounds(p, backwardLower(p, boundRows(p), p.end, 0, base, pre));
  });
}

/** State of a full CROWN pass: input bounds of every non-linear layer and the final bounds. */
export interface CrownState {
  pre: (LowerUpper | undefined)[];
  /** Final bounds as rows [N, 2M] (lower bounds of [C; -C] or [I; -I]), intersected with IBP. */
  rows: tf.Tensor;
}

/**
 * Full CROWN: the input of every non-linear layer is bounded by its own backward pass (for
 * the neurons whose interval straddles 0; the others keep their interval bounds), and every
 * bound is intersected with the interval bound carried forward, so it is never looser than
 * IBP. Call inside a tidy.
 */
export function crownState(p: Omit<Problem, 'box'>, base: Interval): CrownState {
  const pre: (LowerUpper | undefined)[] = [];
  let tail: Interval | undefined;
  const tailStart = p.spec ? affineTailStart(p) : -1;
  const atEnd = propagateIntervals(p, base, p.end, (i, iv) => {
    let cur = iv;
    if (p.rels[i].needsInputBounds) {
      const lu = refine(p, i, toLowerUpper(iv), base, pre);
      pre[i] = lu;
      cur = toInterval(lu);
    }
    if (i === tailStart) tail = cur;
    return cur;
  });
  if (tailStart === p.end) tail = atEnd;
  const ibpB = p.spec ? specOverTail(p, tailStart, tail as Interval) : toLowerUpper(atEnd);
  const ibpRows = p.lowerOnly ? ibpB.lower : tf.concat([tf.reshape(ibpB.lower, [p.n, -1]), tf.neg(tf.reshape(ibpB.upper, [p.n, -1]))], 1);
  const crownRows = backwardLowerChunked(p, boundRows(p), p.end, 0, base, pre, backwardBytes(p.net, p.n, 1, p.end));
  return { pre, rows: tf.maximum(crownRows, ibpRows) };
}

/** CROWN bounds of the neurons entering layer i whose interval contains 0 in its interior, intersected with `lu`. */
function refine(p: Omit<Problem, 'box'>, i: number, lu: LowerUpper, base: Interval, pre: (LowerUpper | undefined)[]): LowerUpper {
  const shape = p.net.shapes[i];
  const d = p.net.widthAt(i);
  const l = lu.lower.dataSync();
  const u = lu.upper.dataSync();
  const picked: number[] = [];
  for (let j = 0; j < d; j++) {
    for (let s = 0; s < p.n; s++) {
      const k = s * d + j;
      if (l[k] < 0 && u[k] > 0) {
        picked.push(j);
        break;
      }
    }
  }
  if (picked.length === 0) return lu;
  let widest = 1;
  for (let k = 0; k <= i; k++) widest = Math.max(widest, p.net.widthAt(k));
  // rows per chunk: within ROW_BUDGET floats, the memory budget, and few enough multiply-adds
  // that the interrupt (checked between chunks) is seen often
  const byWork = Math.floor(FLOPS_PER_STEP / (2 * p.n * Math.max(1, backwardFlopsPerRow(p.net, i))));
  const chunk = Math.max(1, Math.min(Math.floor(ROW_BUDGET / (2 * p.n * widest)), Math.floor(p.budget / (2 * backwardBytes(p.net, p.n, 1, i))), byWork));
  const lows: tf.Tensor[] = [];
  const ups: tf.Tensor[] = [];
  for (let c0 = 0; c0 < picked.length; c0 += chunk) {
    p.interrupt?.();
    const idx = picked.slice(c0, c0 + chunk);
    const c = idx.length;
    const [lo, up] = tf.tidy(() => {
      const e = tf.oneHot(tf.tensor1d(idx, 'int32'), d).toFloat();
      const rows = tf.broadcastTo(tf.reshape(tf.concat([e, tf.neg(e)], 0), [1, 2 * c, ...shape]), [p.n, 2 * c, ...shape]);
      const res = backwardLower(p, rows, i, 0, base, pre);
      return [tf.slice(res, [0, 0], [p.n, c]), tf.neg(tf.slice(res, [0, c], [p.n, c]))];
    });
    lows.push(lo);
    ups.push(up);
  }
  const indices = tf.tensor2d(picked, [picked.length, 1], 'int32');
  const scatter = (parts: tf.Tensor[]) => tf.reshape(tf.transpose(tf.scatterND(indices, tf.transpose(tf.concat(parts, 1)), [d, p.n])), [p.n, ...shape]);
  const mask = tf.reshape(tf.cast(tf.scatterND(indices, tf.ones([picked.length]), [d]), 'bool'), shape);
  return {
    lower: tf.where(tf.broadcastTo(mask, lu.lower.shape), tf.maximum(lu.lower, scatter(lows)), lu.lower),
    upper: tf.where(tf.broadcastTo(mask, lu.upper.shape), tf.minimum(lu.upper, scatter(ups)), lu.upper),
  };
}

/** CROWN with CROWN intermediate bounds (METHODS 3), never looser than IBP. Pixel-space box. */
export function crown(net: Network, box: InputBox, opts?: BoundOptions): Bounds {
  const p = prepare(net, box, opts, 'crown');
  return tidyBounds(() => rowsToBounds(p, crownState(p, boxInterval(box)).rows));
}
