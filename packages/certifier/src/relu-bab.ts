import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '@certkd/core';
import type { Network } from '@certkd/core';
import { DEFAULT_MEMORY_BUDGET, FLOPS_PER_STEP, backwardFlopsPerRow, backwardLower } from '@certkd/bounds';
import type { BoundProblem, Interval, LayerContext, LowerUpper, Relaxation, RelaxationSet } from '@certkd/bounds';

/**
 * Split-aware linear bounds for ReLU branch and bound. A sub-domain is the input box
 * intersected with the half-spaces of its split neurons (z >= 0 for an active split,
 * z <= 0 for an inactive one). Its bounds:
 * - pre-activation bounds of every non-linear layer: interval propagation from the clamped
 *   bounds of the layers before, intersected with the root's CROWN bounds, refined by a
 *   CROWN pass when an earlier layer holds a split, then clamped by the layer's own splits
 *   ([l, 0] inactive: the ReLU is exactly 0; [0, u] active: exactly the identity);
 * - the spec rows by a backward pass whose free lower slopes (alpha) and split multipliers
 *   (beta >= 0, the term -beta * s * z added at every split neuron, sound because s * z >= 0
 *   on the sub-domain) are optimised by projected gradient ascent.
 * A sub-domain whose clamped bounds are empty (lower > upper) contains no input and is verified.
 */

export interface SplitProblem {
  net: Network;
  contexts: LayerContext[];
  rels: Relaxation[];
  /** Indices of the layers that need input bounds (activations). */
  nl: number[];
  /** Which of the nl layers are ReLUs (splittable). */
  splittable: boolean[];
  /** Flattened width of each nl layer's input. */
  widths: number[];
  /** The bounds engine's view of the network (its backward pass is used with split hooks). */
  problem: Omit<BoundProblem, 'box'>;
}

/** The split problem of `net` over the relaxation of each layer kind in `set`. */
export function splitProblem(net: Network, set: RelaxationSet): SplitProblem {
  const contexts: LayerContext[] = [];
  const rels: Relaxation[] = [];
  const nl: number[] = [];
  const splittable: boolean[] = [];
  const widths: number[] = [];
  net.layers.forEach((layer, i) => {
    const rel = set.get(layer.kind);
    if (!rel) throw new UnsupportedLayerError(layer.kind, `relu branch and bound (layer ${i})`, 'use the input-splitting branch and bound');
    contexts.push({ net, index: i, layer, inShape: net.shapes[i], outShape: net.shapes[i + 1], mode: 'eval' });
    rels.push(rel);
    if (rel.needsInputBounds) {
      nl.push(i);
      splittable.push(layer.kind === 'relu');
      widths.push(net.shapes[i].reduce((a, b) => a * b, 1));
    }
  });
  const problem: Omit<BoundProblem, 'box'> = { net, n: 1, end: net.layers.length, contexts, rels, budget: DEFAULT_MEMORY_BUDGET, lowerOnly: false };
  return { net, contexts, rels, nl, splittable, widths, problem };
}

/** A sub-domain: one sign per neuron of each nl layer (+1 active, -1 inactive, 0 not split). */
export interface Domain {
  splits: Int8Array[];
  depth: number;
}

export interface BoundBatchResult {
  /** Lower bounds of c_r·y (without d), [B*R]: those of the returned certificate (alphas, betas). */
  lbs: Float32Array;
  /** Whether the clamped bounds are empty (no input in the sub-domain). */
  infeasible: boolean[];
  /** Clamped pre-activation bounds per nl layer, [B*width]. */
  pre: { lower: Float32Array; upper: Float32Array }[];
  /** Backward coefficients on each nl layer's output, [B*R*width] (from the last pass). */
  coef: Float32Array[];
  /** Input minimising the bound of each row: [B*R*D]. */
  argmin: Float32Array;
  /** Rounding error bound of the split-multiplier (beta) terms of each row's bound, [B*R] (0 without betaWeights). */
  betaSlack: Float64Array;
  /**
   * The certificate of `lbs`, per nl layer: lower slopes [B*R*width] and split multipliers
   * [B*R*width], for each domain and row those of the optimisation step that gave the row its
   * best bound (undefined where a layer has none, e.g. without iterations).
   */
  alphas: (Float32Array | undefined)[];
  betas: (Float32Array | undefined)[];
}

export interface BoundBatchOptions {
  /** Root pre-activation bounds to intersect with (from a pass without splits). */
  root?: { lower: Float32Array; upper: Float32Array }[];
  /** Gradient steps on alpha/beta (0: CROWN slopes, no beta). */
  iters: number;
  lr: number;
  /** Stop optimising once every row of every domain is above these margins (per row, [R]). */
  dvec: Float32Array;
  /** Recompute intermediate bounds of layers after a split with CROWN (else root ∩ interval bounds). */
  refine?: boolean;
  /**
   * Called before each layer and each optimisation step; throw from it to abandon the call
   * (e.g. when the time budget is spent). Tensors made so far are released.
   */
  checkTime?: () => void;
  /**
   * Sound infeasibility: a domain counts as empty only where lower - upper of some neuron
   * exceeds its tolerance (per nl layer, [width]: twice the rounding error bound of the
   * neuron's bounds); default 1e-6 everywhere.
   */
  gapTol?: Float32Array[];
  /** Per nl layer, [width]: rounding error per unit of beta at each neuron (termFactor * magnitude); gives betaSlack. */
  betaWeights?: Float32Array[];
}

const ROW_BUDGET = 1 << 23;

/**
 * Backward pass of rows A (at the input of layer `from`) down to the input, by the bounds
 * engine with the split hooks: beta terms subtracted at the split layers' inputs and the
 * coefficients captured at every non-linear layer. Returns the value and the input coefficients.
 */
function backward(
  p: SplitProblem,
  A0: tf.Tensor,
  from: number,
  base: Interval,
  pre: (LowerUpper | undefined)[],
  alphas?: (tf.Tensor | undefined)[],
  betaTerms?: (tf.Tensor | undefined)[],
  capture?: (i: number, A: tf.Tensor) => void,
): { value: tf.Tensor; A: tf.Tensor } {
  let input: tf.Tensor | undefined;
  const value = backwardLower(p.problem, A0, from, 0, base, pre, alphas, { terms: betaTerms, capture, input: (A) => (input = A) });
  return { value, A: input as tf.Tensor };
}

/**
 * Bound B sub-domains of one input box at once (stacked along the batch axis). `C` is the
 * spec [R*K] (rows c_r over the K outputs).
 */
export function boundBatch(
  p: SplitProblem,
  box: { lower: Float32Array; upper: Float32Array },
  domains: readonly Domain[],
  C: Float32Array,
  R: number,
  opts: BoundBatchOptions,
): BoundBatchResult {
  const { net } = p;
  const B = domains.length;
  const L = net.layers.length;
  const inShape = net.inputShape;
  const D = box.lower.length;
  const K = C.length / R;
  return tf.tidy(() => {
    const lo1 = tf.tensor(box.lower, [1, ...inShape]);
    const hi1 = tf.tensor(box.upper, [1, ...inShape]);
    const reps = [B, ...inShape.map(() => 1)];
    const base: Interval = { center: tf.tile(tf.div(tf.add(hi1, lo1), 2), reps), radius: tf.tile(tf.div(tf.sub(hi1, lo1), 2), reps) };
    const pre: (LowerUpper | undefined)[] = [];
    const infeasible = new Array<boolean>(B).fill(false);
    const signs: tf.Tensor[] = [];
    let iv: Interval = base;
    let q = 0;
    let anySplitBefore = false;
    for (let i = 0; i < L; i++) {
      opts.checkTime?.();
      const rel = p.rels[i];
      if (rel.needsInputBounds) {
        const shape = net.shapes[i];
        const w = p.widths[q];
        let lower = tf.sub(iv.center, iv.radius);
        let upper = tf.add(iv.center, iv.radius);
        if (opts.root) {
          lower = tf.maximum(lower, tf.tile(tf.tensor(opts.root[q].lower, [1, ...shape]), [B, ...shape.map(() => 1)]));
          upper = tf.minimum(upper, tf.tile(tf.tensor(opts.root[q].upper, [1, ...shape]), [B, ...shape.map(() => 1)]));
        }
        if (!opts.root || (anySplitBefore && opts.refine)) {
          // CROWN refinement of the neurons whose interval contains 0 in some domain, chunked to bound memory.
          const lv = lower.dataSync(),
            uv = upper.dataSync();
          const picked: number[] = [];
          for (let j = 0; j < w; j++) {
            for (let b = 0; b < B; b++)
              if (lv[b * w + j] < 0 && uv[b * w + j] > 0) {
                picked.push(j);
                break;
              }
          }
          if (picked.length > 0) {
            let widest = 1;
            for (let k = 0; k <= i; k++) widest = Math.max(widest, net.widthAt(k));
            const byWork = Math.floor(FLOPS_PER_STEP / (2 * B * Math.max(1, backwardFlopsPerRow(net, i))));
            const chunk = Math.max(1, Math.min(Math.floor(ROW_BUDGET / (2 * B * widest)), byWork));
            const lows: tf.Tensor[] = [],
              ups: tf.Tensor[] = [];
            for (let c0 = 0; c0 < picked.length; c0 += chunk) {
              opts.checkTime?.(); // between chunks: one chunk's pass stays short
              const idx = picked.slice(c0, c0 + chunk);
              const c = idx.length;
              const e = tf.oneHot(tf.tensor1d(idx, 'int32'), w).toFloat();
              const rows = tf.broadcastTo(tf.reshape(tf.concat([e, tf.neg(e)], 0), [1, 2 * c, ...shape]), [B, 2 * c, ...shape]);
              const v = backward(p, rows, i, base, pre).value;
              lows.push(tf.slice(v, [0, 0], [B, c]));
              ups.push(tf.neg(tf.slice(v, [0, c], [B, c])));
            }
            // scatter the refined rows back to their neurons (+-inf elsewhere: no change)
            const pos = new Int32Array(w).fill(-1);
            picked.forEach((j, k) => (pos[j] = k));
            const gatherIdx = tf.tensor1d(
              Array.from(pos, (k) => (k < 0 ? picked.length : k)),
              'int32',
            );
            const padL = tf.concat([...lows, tf.fill([B, 1], -Infinity)], 1);
            const padU = tf.concat([...ups, tf.fill([B, 1], Infinity)], 1);
            lower = tf.maximum(lower, tf.reshape(tf.gather(padL, gatherIdx, 1), [B, ...shape]));
            upper = tf.minimum(upper, tf.reshape(tf.gather(padU, gatherIdx, 1), [B, ...shape]));
          }
        }
        const s = new Float32Array(B * w);
        let has = false;
        domains.forEach((d, b) => {
          const sp = d.splits[q];
          for (let j = 0; j < w; j++)
            if (sp[j] !== 0) {
              s[b * w + j] = sp[j];
              has = true;
            }
        });
        const sT = tf.tensor(s, [B, ...shape]);
        signs.push(sT);
        if (has) {
          lower = tf.where(tf.greater(sT, 0), tf.maximum(lower, 0), lower);
          upper = tf.where(tf.less(sT, 0), tf.minimum(upper, 0), upper);
          anySplitBefore = true;
        }
        const gap = tf.sub(lower, upper).dataSync();
        const tol = opts.gapTol?.[q];
        for (let b = 0; b < B; b++)
          for (let j = 0; j < w; j++)
            if (gap[b * w + j] > (tol ? tol[j] : 1e-6)) {
              infeasible[b] = true;
              break;
            }
        // Keep the relaxation well-formed in infeasible domains (they are dropped anyway).
        upper = tf.maximum(upper, lower);
        pre[i] = { lower, upper };
        iv = { center: tf.div(tf.add(upper, lower), 2), radius: tf.div(tf.sub(upper, lower), 2) };
        q++;
      }
      iv = rel.interval(p.contexts[i], iv);
    }
    // Spec rows, optimised over alpha (lower slopes) and beta (split multipliers).
    const A0 = tf.tile(tf.tensor3d(C, [1, R, K]), [B, 1, 1]);
    const alphaLayers: number[] = [];
    let params: tf.Tensor[] = [];
    const betaLayers: number[] = [];
    p.nl.forEach((i, k) => {
      const rel = p.rels[i];
      if (opts.iters > 0 && rel.initAlpha) {
        const init = rel.initAlpha(p.contexts[i], pre[i] as LowerUpper);
        if (init) {
          alphaLayers.push(i);
          params.push(tf.broadcastTo(tf.expandDims(init, 1), [B, R, ...net.shapes[i]]));
        }
      }
      if (opts.iters > 0 && p.splittable[k]) betaLayers.push(k);
    });
    const nA = alphaLayers.length;
    for (const k of betaLayers) params.push(tf.zeros([B, R, ...net.shapes[p.nl[k]]]));
    const assemble = (ps: tf.Tensor[]) => {
      const alphas: (tf.Tensor | undefined)[] = [];
      const betas: (tf.Tensor | undefined)[] = [];
      alphaLayers.forEach((li, k) => (alphas[li] = ps[k]));
      betaLayers.forEach((k, m) => (betas[p.nl[k]] = tf.mul(ps[nA + m], tf.expandDims(signs[k], 1))));
      return { alphas, betas };
    };
    const coef: tf.Tensor[] = [];
    const finalPass = (ps: tf.Tensor[], cap: boolean) => {
      const { alphas, betas } = assemble(ps);
      return backward(p, A0, L, base, pre, alphas, betas, cap ? (i, A) => (coef[p.nl.indexOf(i)] = A) : undefined);
    };
    // The certificate returned is, per domain and row, the parameters of the step that gave the
    // row its best bound (the last step's may be worse): the lower bounds returned are exactly
    // that certificate's, so the re-check and the beta slack match them.
    let best = finalPass(params, false).value;
    let bestParams = params.map((x) => tf.clone(x));
    if (params.length > 0) {
      const b1 = 0.9,
        b2 = 0.999;
      let m = params.map((x) => tf.zerosLike(x));
      let v = params.map((x) => tf.zerosLike(x));
      const d = tf.tensor2d(opts.dvec, [1, R]);
      for (let t = 0; t < opts.iters; t++) {
        opts.checkTime?.();
        // Each step runs in its own scope: only the new parameters, moments and best bound survive it.
        const step = tf.tidy(() => {
          const { grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
            const val = finalPass(ps, false).value;
            // rows already proved do not pull
            return tf.sum(tf.minimum(tf.sub(val, d), 0.01)) as tf.Scalar;
          })(params);
          const c1 = 1 - Math.pow(b1, t + 1),
            c2 = 1 - Math.pow(b2, t + 1);
          const nm = m.map((mm, k) => tf.add(tf.mul(mm, b1), tf.mul(grads[k], 1 - b1)));
          const nv = v.map((vv, k) => tf.add(tf.mul(vv, b2), tf.mul(tf.square(grads[k]), 1 - b2)));
          const np = params.map((x, k) => {
            const upd = tf.add(x, tf.mul(opts.lr, tf.div(tf.div(nm[k], c1), tf.add(tf.sqrt(tf.div(nv[k], c2)), 1e-8))));
            return k < nA ? tf.clipByValue(upd, 0, 1) : tf.relu(upd);
          });
          const val = finalPass(np, false).value;
          const improved = tf.greater(val, best);
          const nbp = np.map((x, k) => tf.where(tf.broadcastTo(tf.reshape(improved, [B, R, ...x.shape.slice(2).map(() => 1)]), x.shape), x, bestParams[k]));
          const nb = tf.maximum(best, val);
          return { nm, nv, np, nb, nbp, stop: tf.min(tf.sub(nb, d)) };
        });
        [...m, ...v, ...params, ...bestParams, best].forEach((x) => x.dispose());
        m = step.nm;
        v = step.nv;
        params = step.np;
        bestParams = step.nbp;
        best = step.nb;
        const stop = step.stop.dataSync()[0] > 0;
        step.stop.dispose();
        if (stop) break;
      }
      [...m, ...v, d].forEach((x) => x.dispose());
    }
    params = bestParams;
    const last = finalPass(params, true);
    best = last.value;
    // Rounding error of the beta terms: sum over split neurons of beta * (error per unit of beta).
    let betaSlack: number[] = new Array<number>(B * R).fill(0);
    if (opts.betaWeights && betaLayers.length > 0) {
      let acc: tf.Tensor = tf.zeros([B, R]);
      betaLayers.forEach((k, mIdx) => {
        const wts = tf.reshape(tf.tensor(opts.betaWeights![k]), [1, 1, ...net.shapes[p.nl[k]]]);
        acc = tf.add(acc, tf.sum(tf.reshape(tf.mul(params[nA + mIdx], wts), [B, R, -1]), 2));
      });
      betaSlack = Array.from(acc.dataSync());
    }
    // Input minimising each row's linear bound: the box corner picked by the coefficient signs.
    const Ain = tf.reshape(last.A, [B, R, D]);
    const argmin = tf.where(tf.greater(Ain, 0), tf.broadcastTo(tf.reshape(lo1, [1, 1, D]), [B, R, D]), tf.broadcastTo(tf.reshape(hi1, [1, 1, D]), [B, R, D]));
    return {
      lbs: best.dataSync() as Float32Array,
      infeasible,
      pre: p.nl.map((i) => ({
        lower: (pre[i] as LowerUpper).lower.dataSync() as Float32Array,
        upper: (pre[i] as LowerUpper).upper.dataSync() as Float32Array,
      })),
      coef: p.nl.map((_, k) => (coef[k] ? (coef[k].dataSync() as Float32Array) : new Float32Array(B * R * p.widths[k]))),
      argmin: argmin.dataSync() as Float32Array,
      betaSlack: Float64Array.from(betaSlack),
      alphas: p.nl.map((i) => {
        const k = alphaLayers.indexOf(i);
        return k >= 0 && k < params.length ? (params[k].dataSync() as Float32Array) : undefined;
      }),
      betas: p.nl.map((_, q) => {
        const m = betaLayers.indexOf(q);
        return m >= 0 ? (params[nA + m].dataSync() as Float32Array) : undefined;
      }),
    } as unknown as tf.TensorContainer;
  }) as unknown as BoundBatchResult;
}

/**
 * Branching scores of the unstable neurons of domain b (BaBSR-like): the intercept of the
 * chord, -l*u/(u-l), weighted by how much the open rows pay for it (the negative part of
 * their backward coefficient), plus a small term for the coefficient times the width, so
 * that ties break toward influential neurons. Returns the best `k` as [nl index, neuron],
 * best first (empty when no neuron is unstable).
 */
export function rankNeurons(p: SplitProblem, res: BoundBatchResult, b: number, R: number, openRows: number[], k: number): [number, number][] {
  const top: { q: number; j: number; score: number }[] = [];
  for (let q = 0; q < p.nl.length; q++) {
    if (!p.splittable[q]) continue;
    const w = p.widths[q];
    const lo = res.pre[q].lower,
      up = res.pre[q].upper,
      cf = res.coef[q];
    for (let j = 0; j < w; j++) {
      const l = lo[b * w + j],
        u = up[b * w + j];
      if (!(l < 0 && u > 0)) continue;
      const icpt = (-l * u) / (u - l);
      let s = 0,
        a = 0;
      for (const r of openRows) {
        const c = cf[(b * R + r) * w + j];
        if (c < 0) s -= c * icpt;
        a += Math.abs(c);
      }
      const score = s + 1e-3 * a * Math.min(u, -l);
      if (top.length === k && score <= top[k - 1].score) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].score < score) at--;
      top.splice(at, 0, { q, j, score });
      if (top.length > k) top.pop();
    }
  }
  return top.map((t) => [t.q, t.j]);
}

/** The neuron with the best BaBSR-like score (rankNeurons), or null when no neuron is unstable. */
export function pickNeuron(p: SplitProblem, res: BoundBatchResult, b: number, R: number, openRows: number[]): [number, number] | null {
  return rankNeurons(p, res, b, R, openRows, 1)[0] ?? null;
}
