import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '@certkd/core';
import { defaultRelaxations } from './relaxations/default-set';
import type { LayerContext, RelaxationSet } from './types';

/**
 * A priori bound on the float32 rounding error of the bounds the CROWN family computes over
 * a box (IBP, CROWN, alpha-CROWN with any slopes in [0, 1], and the split sub-domains of
 * branch and bound), used to re-check a verified claim soundly (docs/verification.md).
 *
 * The argument. Every bound of the CROWN family is a sum of products along the paths of a
 * backward pass: |c| |W_L| S_L ... |W_1| times the box, plus bias and relaxation-intercept
 * terms, with slopes S in [0, 1]. A float32 sum of products of length n computed in any order
 * differs from the exact value by at most gamma_n = n u / (1 - n u) (u = 2^-24) times the sum
 * of the absolute values of its terms (Higham, Accuracy and Stability, 3.1-3.5); a chain of
 * such sums accumulates the lengths. The sum of absolute terms of a bound of neuron j of
 * non-linear layer k is at most (k' + 3) m_k(j), where m_k is the magnitude bound
 * |W_k| m_{k-1} + |b_k| carried forward from max(|lo|, |hi|) of the box and k' the number of
 * non-linear layers below (each contributes intercepts at most m); a shift computed from terms
 * that may cancel (BatchNorm's beta - mean * s) counts with their absolute values, and a
 * constant rounded to float32 (a normalisation's mean) is one more rounding of its term. That is the layer's own
 * rounding error. A pre-activation bound that is too tight by T makes the relaxation's upper
 * line (the only line valid only inside the bounds: the lower lines of ReLU hold everywhere)
 * fall below the activation by at most T, which reaches every later bound through the same
 * absolute paths: U_k = |W...| (T_{k-1} + U_{k-1}). The final error of a spec row c is
 * sum_j |c_j| (own m_L(j) + U_L(j)). Magnitudes are themselves computed in float32 over
 * non-negative numbers and enlarged by 1 + 2 gamma_fan-in, which covers their rounding; the
 * whole bound is multiplied by a safety factor (default 2).
 */
export interface RoundingErrorBound {
  /** Bound on the error of each non-linear layer's input bounds, per neuron (sample 0), keyed by layer index. */
  pre: Map<number, Float64Array>;
  /** |z_j| <= mag[j] over the box for the input of each non-linear layer (sample 0). */
  mag: Map<number, Float64Array>;
  /**
   * Error per unit of |beta| * magnitude of a split-multiplier (beta-CROWN) term added at
   * the input of non-linear layer i: the extra error is termFactor(i) * sum_j beta_j mag_i(j).
   */
  termFactor(layer: number): number;
  /** Bound on the float32 error of a computed lower bound of c·y (c over the K outputs). */
  rowSlack(c: ArrayLike<number>): number;
}

/**
 * BatchNorm's shift beta - mean * s is computed from two terms that may cancel, and its
 * rounding error scales with them, not with the shift: the magnitude after the layer counts
 * |s| m + |beta| + |mean * s| (eval mode; channels last, so the channel is the fastest index).
 */
function shiftTerms(net: Network, i: number, m: Float64Array, out: Float32Array): void {
  const { scale, shiftTerms: terms } = net.bnAffine64(i);
  const C = scale.length;
  for (let k = 0; k < out.length; k++) {
    const c = k % C;
    out[k] = Math.max(out[k], Math.fround((Math.abs(scale[c]) * m[k] + terms[c]) * (1 + 2 ** -20)));
  }
}

/** Unit roundoff of float32. */
export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;

/** gamma_n = n u / (1 - n u) for float32 (Infinity when n u >= 1). */
export function gamma32(n: number): number {
  const nu = n * FLOAT32_UNIT_ROUNDOFF;
  return nu >= 1 ? Infinity : nu / (1 - nu);
}

/**
 * The rounding error bound of a network's bounds over a box (one sample: lower/upper flat,
 * in the network's input order). Sound for any sub-box of the box.
 */
export function roundingErrorBound(
  net: Network,
  box: { lower: ArrayLike<number>; upper: ArrayLike<number> },
  opts: { relaxations?: RelaxationSet; safety?: number } = {},
): RoundingErrorBound {
  const set = opts.relaxations ?? defaultRelaxations();
  const safety = opts.safety ?? 2;
  const L = net.layers.length;
  const D = net.widthAt(0);
  const m0 = new Float32Array(D);
  for (let k = 0; k < D; k++) m0[k] = Math.max(Math.abs(box.lower[k]), Math.abs(box.upper[k]));
  const pre = new Map<number, Float64Array>();
  const mag = new Map<number, Float64Array>();
  const factorAt = new Map<number, number>();
  // Accumulation length of the longest chain of float32 sums: the concretisation over the box
  // (D terms), every layer's fan-in (bounded by its input width), twice its output width (a
  // backward pass's coefficient sums and the sum of its bias or intercept terms) and a few
  // element-wise steps.
  const steps = (i: number) => net.widthAt(i) + 2 * net.widthAt(i + 1) + 8;
  let chain = D + 8;
  for (let i = 0; i < L; i++) chain += steps(i);
  const gAll = gamma32(chain);
  let nlBefore = 0;
  let lengthSoFar = D + 8;
  let m = Float64Array.from(m0);
  let q = new Float64Array(D); // accumulated error carried at the current activation
  const enlarge = (v: Float32Array, fanIn: number) => {
    const f = 1 + 2 * gamma32(fanIn) + 1e-12;
    return Float64Array.from(v, (x) => x * f);
  };
  for (let i = 0; i < L; i++) {
    const layer = net.layers[i];
    const rel = set.get(layer.kind);
    if (!rel) throw new Error(`no relaxation for layer kind '${layer.kind}' (layer ${i})`);
    const ctx: LayerContext = { net, index: i, layer, inShape: net.shapes[i], outShape: net.shapes[i + 1], mode: 'eval' };
    if (rel.needsInputBounds) {
      const own = safety * gamma32(lengthSoFar) * (nlBefore + 3);
      const T = new Float64Array(m.length);
      for (let j = 0; j < m.length; j++) T[j] = own * m[j] + q[j];
      pre.set(i, T);
      mag.set(i, Float64Array.from(m));
      factorAt.set(i, safety * gAll * (nlBefore + 3));
      const qn = new Float64Array(m.length);
      for (let j = 0; j < m.length; j++) qn[j] = T[j] + q[j];
      q = qn;
      nlBefore++;
      lengthSoFar += steps(i);
      // ReLU (the IR's activation) has |relu(z)| <= |z|: the magnitude bound carries over.
      continue;
    }
    const fanIn = net.widthAt(i);
    const [mv, qv] = tf.tidy(() => {
      const shape = [1, ...net.shapes[i]];
      const zero = tf.zeros(shape);
      const a = rel.interval(ctx, { center: zero, radius: tf.tensor(Float32Array.from(m), shape) });
      const b = rel.interval(ctx, { center: zero, radius: tf.tensor(Float32Array.from(q), shape) });
      return [tf.add(tf.abs(a.center), a.radius).dataSync() as Float32Array, b.radius.dataSync() as Float32Array];
    });
    if (layer.kind === 'batchnorm') shiftTerms(net, i, m, mv);
    m = enlarge(mv, fanIn);
    q = enlarge(qv, fanIn);
    lengthSoFar += steps(i);
  }
  const ownOut = safety * gamma32(lengthSoFar + net.widthAt(L)) * (nlBefore + 3);
  const mOut = m;
  const qOut = q;
  return {
    pre,
    mag,
    termFactor: (layer: number) => factorAt.get(layer) ?? safety * gAll * (nlBefore + 3),
    rowSlack(c: ArrayLike<number>): number {
      let s = 0;
      for (let j = 0; j < mOut.length; j++) s += Math.abs(c[j]) * (ownOut * mOut[j] + qOut[j]);
      return s * (1 + 1e-12);
    },
  };
}
