import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, InputBox, Network, UnsupportedLayerError } from '@certkd/core';
import { defaultRelaxations } from '../relaxations/default-set';
import { DEFAULT_MEMORY_BUDGET } from './memory';
import { perSample, sumTrailing } from '../relaxations/linear-ops';
import type { BoundOptions, Bounds, Interval, LayerContext, LowerUpper, Relaxation } from '../types';

/** A validated bounding problem: contexts and relaxations of layers [0, end). */
export interface Problem {
  net: Network;
  n: number;
  end: number;
  spec?: tf.Tensor3D;
  contexts: LayerContext[];
  rels: Relaxation[];
  /** The input box as centre/radius (pixel space). */
  box: Interval;
  /** See BoundOptions.interrupt. */
  interrupt?: () => void;
  /** Bytes the large temporaries may take (BoundOptions.memoryBudget). */
  budget: number;
  /** Bound only the lower side of the spec rows (BoundOptions.lowerOnly). */
  lowerOnly: boolean;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** tf.tidy for a function returning Bounds (keeps exactly lower and upper). */
export function tidyBounds(fn: () => Bounds): Bounds {
  return tf.tidy(() => {
    const b = fn();
    return { lower: b.lower, upper: b.upper };
  });
}

/** Check options and look up the relaxation of every layer; throws ConfigError / UnsupportedLayerError. */
export function prepare(net: Network, box: InputBox, opts: BoundOptions | undefined, method: string): Omit<Problem, 'box'> {
  const o = opts ?? {};
  const mode = o.mode ?? 'eval';
  if (mode !== 'eval' && mode !== 'train') throw new ConfigError(`mode must be 'eval' or 'train', got '${String(mode)}'`, undefined, 'mode');
  const L = net.layers.length;
  const end = o.end ?? L;
  if (!Number.isInteger(end) || end < 0 || end > L) throw new ConfigError(`end must be an integer layer index in [0, ${L}], got ${end}`, undefined, 'end');
  const inShape = net.inputShape;
  if (!same(box.lower.shape, box.upper.shape) || !same(box.lower.shape.slice(1), inShape)) {
    throw new ConfigError(`input box has lower [${box.lower.shape}] / upper [${box.upper.shape}], expected [N, ${inShape.join(', ')}]`, undefined, 'box');
  }
  const n = box.lower.shape[0];
  if (o.spec) {
    if (end !== L) throw new ConfigError(`a spec matrix is only valid when bounding the network output (end = ${L}), got end = ${end}`, undefined, 'spec');
    const k = net.widthAt(L);
    if (o.spec.rank !== 3 || o.spec.shape[0] !== n || o.spec.shape[2] !== k) {
      throw new ConfigError(`spec matrix has shape [${o.spec.shape}], expected [${n}, M, ${k}]`, undefined, 'spec');
    }
  }
  const set = o.relaxations ?? defaultRelaxations();
  const contexts: LayerContext[] = [];
  const rels: Relaxation[] = [];
  for (let i = 0; i < end; i++) {
    const layer = net.layers[i];
    const rel = set.get(layer.kind);
    if (!rel) {
      throw new UnsupportedLayerError(
        layer.kind,
        `bound method '${method}' (layer ${i}${layer.name ? ` '${layer.name}'` : ''})`,
        `register a 'relaxation' plugin with layerKind '${layer.kind}' (see docs/plugins/relaxation.md) or pass it in BoundOptions.relaxations`,
      );
    }
    if (rel.layerKind !== layer.kind) {
      throw new ConfigError(`relaxation '${rel.name}' covers '${rel.layerKind}' but was given for layer kind '${layer.kind}'`, undefined, 'relaxations');
    }
    if (layer.kind === 'batchnorm' && mode === 'train' && !o.bnStats?.get(i)) {
      throw new ConfigError(
        `mode 'train' needs batch statistics for BatchNorm layer ${i}; pass bnStats from the clean forward pass (collectStats)`,
        undefined,
        'bnStats',
      );
    }
    contexts.push({ net, index: i, layer, inShape: net.shapes[i], outShape: net.shapes[i + 1], mode, bnStats: o.bnStats });
    rels.push(rel);
  }
  const budget = o.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  if (!(budget > 0)) throw new ConfigError(`memoryBudget must be > 0 bytes, got ${budget}`, undefined, 'memoryBudget');
  return { net, n, end, spec: o.spec, contexts, rels, interrupt: o.interrupt, budget, lowerOnly: !!(o.lowerOnly && o.spec) };
}

/** The box as centre and radius. Call inside a tidy. */
export function boxInterval(box: InputBox): Interval {
  return { center: tf.div(tf.add(box.upper, box.lower), 2), radius: tf.div(tf.sub(box.upper, box.lower), 2) };
}

export function toLowerUpper(iv: Interval): LowerUpper {
  return { lower: tf.sub(iv.center, iv.radius), upper: tf.add(iv.center, iv.radius) };
}

export function toInterval(lu: LowerUpper): Interval {
  return { center: tf.div(tf.add(lu.upper, lu.lower), 2), radius: tf.div(tf.sub(lu.upper, lu.lower), 2) };
}

/** The id the next tensor will get (ids only grow), or -1 when the engine does not say. */
function nextTensorId(): number {
  const state = (tf.engine() as unknown as { state?: { nextTensorId?: number } }).state;
  return typeof state?.nextTensorId === 'number' ? state.nextTensorId : -1;
}

/** First index j such that no layer in [j, end) needs input bounds (the affine tail that a spec is pushed through). */
export function affineTailStart(p: Omit<Problem, 'box'>): number {
  let j = p.end;
  while (j > 0 && !p.rels[j - 1].needsInputBounds) j--;
  return j;
}

/**
 * Backward linear lower bound of the rows A0 ([N, R, ...shape of activation `from`]) through
 * layers [stop, from), concretised over the interval `base` of the activation entering layer
 * `stop` (METHODS 3). Returns [N, R].
 */
export function backwardLower(
  p: Omit<Problem, 'box'>,
  A0: tf.Tensor,
  from: number,
  stop: number,
  base: Interval,
  pre: (LowerUpper | undefined)[],
  alphas?: (tf.Tensor | undefined)[],
  hooks?: BackwardHooks,
): tf.Tensor {
  let A = A0;
  let bias: tf.Tensor | null = null;
  const held = new Set<tf.Tensor>();
  // Each layer's step runs in its own tidy and the previous A is released as soon as the next
  // exists, so that only about two A matrices are alive at once (they dominate the memory of
  // wide convolutional networks). Only tensors made during this call and never kept are
  // released early; gradients are unaffected (the tape keeps its own copies).
  const firstId = nextTensorId();
  const release = (t: tf.Tensor | null, keepIf: (tf.Tensor | null)[]) => {
    if (t && t !== A0 && !keepIf.includes(t) && !held.has(t) && t.id >= firstId && !(t as unknown as { kept?: boolean }).kept && !t.isDisposed) t.dispose();
  };
  for (let i = from - 1; i >= stop; i--) {
    p.interrupt?.();
    const rel = p.rels[i];
    const lu = rel.needsInputBounds ? pre[i] : undefined;
    if (rel.needsInputBounds && !lu) throw new Error(`internal: no input bounds for layer ${i} (${p.contexts[i].layer.kind})`);
    if (hooks?.capture && rel.needsInputBounds) {
      hooks.capture(i, A);
      held.add(A);
    }
    const prevA: tf.Tensor = A;
    const prevBias: tf.Tensor | null = bias;
    const term = hooks?.terms?.[i];
    const out: tf.Tensor[] = tf.tidy(() => {
      const res = rel.backward(p.contexts[i], prevA, lu, alphas?.[i]);
      const b = res.bias ? (prevBias ? tf.add(prevBias, res.bias) : res.bias) : prevBias;
      const nA = term ? tf.sub(res.A, term) : res.A;
      return b ? [nA, b] : [nA];
    });
    A = out[0];
    bias = out[1] ?? null;
    if (firstId >= 0) {
      release(prevA, [A, bias]);
      release(prevBias, [A, bias]);
    }
  }
  hooks?.input?.(A);
  const r = A.rank;
  const value = tf.sub(sumTrailing(tf.mul(A, perSample(base.center, r))), sumTrailing(tf.mul(tf.abs(A), perSample(base.radius, r))));
  return bias ? tf.add(value, bias) : value;
}

/**
 * Hooks of a backward pass (used by branch and bound): extra terms, and views of the
 * coefficients on the way. Captured tensors are not released early.
 */
export interface BackwardHooks {
  /**
   * Per layer i: a tensor subtracted from the coefficients at the input of layer i after its
   * backward step, i.e. the bound of c·y - sum(term · z_i) (beta-CROWN's split multipliers:
   * term = beta · s, sound on the sub-domain where s · z >= 0 and beta >= 0).
   */
  terms?: (tf.Tensor | undefined)[];
  /** Sees the coefficients at the output of each layer that needs input bounds, before its step. */
  capture?: (i: number, A: tf.Tensor) => void;
  /** Sees the coefficients on the input, before concretisation. */
  input?: (A: tf.Tensor) => void;
}

/**
 * Spec rows for a lower-bound-only backward pass: [C; -C] (or [I; -I] without a spec) as
 * [N, 2M, ...shape of the bounded activation]. Lower bounds of the second half are minus
 * the upper bounds.
 */
export function boundRows(p: Omit<Problem, 'box'>): tf.Tensor {
  const shape = p.net.shapes[p.end];
  if (p.spec) {
    const m = p.spec.shape[1];
    if (p.lowerOnly) return tf.reshape(p.spec, [p.n, m, ...shape]);
    return tf.reshape(tf.concat([p.spec, tf.neg(p.spec)], 1), [p.n, 2 * m, ...shape]);
  }
  const d = p.net.widthAt(p.end);
  const eye = tf.eye(d);
  const rows = tf.reshape(tf.concat([eye, tf.neg(eye)], 0), [1, 2 * d, ...shape]);
  return tf.broadcastTo(rows, [p.n, 2 * d, ...shape]);
}

/**
 * Lower bounds of the rows A0 ([N, R, ...]) as backwardLower computes them, with the rows
 * taken in chunks whose backward pass fits the problem's memory budget. Returns [N, R].
 */
export function backwardLowerChunked(
  p: Omit<Problem, 'box'>,
  A0: tf.Tensor,
  from: number,
  stop: number,
  base: Interval,
  pre: (LowerUpper | undefined)[],
  bytesPerRow: number,
): tf.Tensor {
  const R = (A0.shape as number[])[1];
  const chunk = Math.max(1, Math.floor(p.budget / Math.max(1, bytesPerRow)));
  if (chunk >= R) return backwardLower(p, A0, from, stop, base, pre);
  const parts: tf.Tensor[] = [];
  const rest = (A0.shape as number[]).slice(2).map(() => -1);
  for (let r0 = 0; r0 < R; r0 += chunk) {
    p.interrupt?.();
    const c = Math.min(chunk, R - r0);
    parts.push(tf.tidy(() => backwardLower(p, tf.slice(A0, [0, r0, ...rest.map(() => 0)], [-1, c, ...rest]), from, stop, base, pre)));
  }
  return tf.concat(parts, 1);
}

/** Split row lower bounds [N, 2M] into Bounds (activation-shaped without a spec). */
export function rowsToBounds(p: Omit<Problem, 'box'>, rows: tf.Tensor): { lower: tf.Tensor; upper: tf.Tensor } {
  if (p.lowerOnly) return { lower: rows, upper: tf.fill(rows.shape, Infinity) };
  const m = (rows.shape as number[])[1] / 2;
  const lower = tf.slice(rows, [0, 0], [p.n, m]);
  const upper = tf.neg(tf.slice(rows, [0, m], [p.n, m]));
  if (p.spec) return { lower, upper };
  const shape = [p.n, ...p.net.shapes[p.end]];
  return { lower: tf.reshape(lower, shape), upper: tf.reshape(upper, shape) };
}
