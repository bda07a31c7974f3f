import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, InputBox, Network } from '@certkd/core';
import type { BoundOptions, Bounds, Interval, LowerUpper } from '../types';
import { Problem, backwardLower, boundRows, boxInterval, prepare, rowsToBounds, tidyBounds } from './engine';
import { crownState } from './crown';
import { FLOPS_PER_STEP, backwardFlopsPerRow, optimisedPassBytes, rowsThatFit } from './memory';

export interface AlphaCrownOptions {
  /** Projected gradient steps on the slopes of the final rows (default 20). */
  iterations?: number;
  /** Adam step size on the slopes (default 0.1). */
  lr?: number;
  /** Learning-rate schedule: the step size is lr * lrDecay^t at step t (default 0.98). */
  lrDecay?: number;
  /**
   * Optimise the slopes for the bounds of every intermediate layer too (default true): each
   * non-linear layer's unstable neurons are bounded with slopes of the layers below optimised
   * for that neuron's bound, in layer order, so later layers use the tightened bounds.
   */
  intermediate?: boolean;
  /** Steps per intermediate layer (default: iterations). */
  intermediateIterations?: number;
  /**
   * 'per-spec' (default): every bounded row has its own slopes; 'shared': one slope per
   * neuron for all rows of a pass (less memory, usually looser).
   */
  slopes?: 'per-spec' | 'shared';
  /**
   * Early stop: with a spec, stop optimising once the lower bound of every spec row m of
   * every sample exceeds stopAbove[m] (one number: the same for every row).
   */
  stopAbove?: number | ArrayLike<number>;
  /** Stop optimising at this time (Date.now() milliseconds), keeping the best bounds so far. */
  deadlineMs?: number;
  /**
   * Receives the slopes behind the bounds (one box only, N = 1), for a sound re-check that
   * recomputes them in another arithmetic (the certifier's float64 form).
   */
  certificate?: (c: AlphaCertificate) => void;
}

/**
 * The free slopes behind alpha-CROWN's bounds of one box. Any slopes in [0, 1] give valid
 * bounds, so a re-check may recompute each bound from them in another arithmetic. Slopes are
 * by network layer index, flat per row ([rows * width of the layer's input]), and for each row
 * those of the optimisation step that gave the row its best bound.
 */
export interface AlphaCertificate {
  /**
   * Per non-linear layer whose unstable neurons were bounded with optimised slopes (in layer
   * order): the neurons, and the slopes of the layers below for each neuron's lower bound
   * (`lower`, [neurons * width]) and upper bound (`upper`).
   */
  intermediate: { layer: number; neurons: Int32Array; lower: Map<number, Float32Array>; upper: Map<number, Float32Array> }[];
  /** The final rows' slopes per layer, [rows * width], rows in the order bounded. */
  final: Map<number, Float32Array>;
  /** The intermediate bounds of the final pass (CROWN's intersected with the optimised ones), per layer index, [width]. */
  pre: Map<number, { lower: Float32Array; upper: Float32Array }>;
}

/** The best-step slopes of optimiseRows' rows, per layer index, [N * R * width]. */
type SlopeSink = (slopes: Map<number, Float32Array>) => void;

interface Resolved {
  iterations: number;
  interIterations: number;
  lr: number;
  lrDecay: number;
  intermediate: boolean;
  shared: boolean;
  stopAbove?: number | ArrayLike<number>;
  deadlineMs: number;
}

function resolve(opts: AlphaCrownOptions | undefined): Resolved {
  const iterations = opts?.iterations ?? 20;
  const lr = opts?.lr ?? 0.1;
  const lrDecay = opts?.lrDecay ?? 0.98;
  const interIterations = opts?.intermediateIterations ?? iterations;
  if (!Number.isInteger(iterations) || iterations < 0) throw new ConfigError(`iterations must be an integer >= 0, got ${iterations}`, undefined, 'iterations');
  if (!Number.isInteger(interIterations) || interIterations < 0) {
    throw new ConfigError(`intermediateIterations must be an integer >= 0, got ${interIterations}`, undefined, 'intermediateIterations');
  }
  if (!(lr > 0) || !Number.isFinite(lr)) throw new ConfigError(`lr must be a finite number > 0, got ${lr}`, undefined, 'lr');
  if (!(lrDecay > 0 && lrDecay <= 1)) throw new ConfigError(`lrDecay must be in (0, 1], got ${lrDecay}`, undefined, 'lrDecay');
  const slopes = opts?.slopes ?? 'per-spec';
  if (slopes !== 'per-spec' && slopes !== 'shared')
    throw new ConfigError(`slopes must be 'per-spec' or 'shared', got '${String(slopes)}'`, undefined, 'slopes');
  return {
    iterations,
    interIterations,
    lr,
    lrDecay,
    intermediate: opts?.intermediate ?? true,
    shared: slopes === 'shared',
    stopAbove: opts?.stopAbove,
    deadlineMs: opts?.deadlineMs ?? Infinity,
  };
}

type P = Omit<Problem, 'box'>;

/**
 * Optimise the free slopes of the non-linear layers below `from` for the rows A0 ([N, R, ...])
 * by projected Adam ascent on the sum of the rows' lower bounds, starting from CROWN's slopes;
 * returns the best lower bound seen per row, [N, R] (never looser than the starting pass).
 * Every step's tensors are released before the next step.
 */
function optimiseRows(
  p: P,
  base: Interval,
  pre: (LowerUpper | undefined)[],
  A0: tf.Tensor,
  from: number,
  steps: number,
  cfg: Resolved,
  thresholds?: tf.Tensor,
  sink?: SlopeSink,
): tf.Tensor {
  const R = (A0.shape as number[])[1];
  const layers: number[] = [];
  let alphas: tf.Tensor[] = [];
  for (let i = 0; i < from; i++) {
    const rel = p.rels[i];
    const lu = pre[i];
    if (!rel.initAlpha || !lu) continue;
    const a = rel.initAlpha(p.contexts[i], lu);
    if (!a) continue;
    const init = tf.tidy(() => tf.broadcastTo(tf.expandDims(tf.clipByValue(a, 0, 1), 1), [p.n, cfg.shared ? 1 : R, ...p.net.shapes[i]]));
    layers.push(i);
    alphas.push(init);
  }
  const byLayer = (as: tf.Tensor[]) => {
    const out: (tf.Tensor | undefined)[] = [];
    layers.forEach((li, k) => (out[li] = as[k]));
    return out;
  };
  const full = (a: tf.Tensor) => tf.broadcastTo(a, [p.n, R, ...(a.shape as number[]).slice(2)]);
  const emit = (as: tf.Tensor[]) => {
    if (!sink) return;
    const out = new Map<number, Float32Array>();
    layers.forEach((li, k) => {
      const t = tf.tidy(() => full(as[k]));
      out.set(li, t.dataSync() as Float32Array);
      t.dispose();
    });
    sink(out);
  };
  if (layers.length === 0 || steps === 0) {
    const v = backwardLower(p, A0, from, 0, base, pre, layers.length ? byLayer(alphas) : undefined);
    emit(alphas);
    alphas.forEach((a) => a.dispose());
    return v;
  }
  // with a sink: each row's slopes at the step that gave it its best bound
  let bestAlphas: tf.Tensor[] | null = null;
  let best: tf.Tensor | null = null;
  let m = alphas.map((a) => tf.zerosLike(a));
  let v = alphas.map((a) => tf.zerosLike(a));
  const b1 = 0.9;
  const b2 = 0.999;
  const done = (): boolean => {
    if (!thresholds || !best) return false;
    const b = best;
    return tf.tidy(() => tf.min(tf.sub(b, thresholds)).dataSync()[0]) > 0;
  };
  // The interrupt is checked between steps only: a throw while the gradient tape records would
  // strand the tensors the tape saves (tfjs frees them only in the backward phase).
  const inTape: P = { ...p, interrupt: undefined };
  for (let t = 0; t <= steps; t++) {
    p.interrupt?.();
    let rows: tf.Tensor | undefined;
    const { grads } = tf.valueAndGrads((...as: tf.Tensor[]) => {
      const r = backwardLower(inTape, A0, from, 0, base, pre, byLayer(as));
      rows = tf.keep(r);
      // Rows already above their threshold stop pulling (early-stop target); otherwise the sum.
      return (thresholds ? tf.sum(tf.minimum(tf.sub(r, thresholds), 0.01)) : tf.sum(r)) as tf.Scalar;
    })(alphas);
    const prevBest: tf.Tensor | null = best;
    if (sink) {
      const old: tf.Tensor[] | null = bestAlphas;
      bestAlphas = tf.tidy((): tf.Tensor[] => {
        if (!old || !prevBest) return alphas.map((a) => full(a).clone());
        const better = tf.cast(tf.greater(rows as tf.Tensor, prevBest), 'float32'); // [N, R]
        return alphas.map((a, k): tf.Tensor => {
          const m = tf.reshape(better, [p.n, R, ...(a.shape as number[]).slice(2).map(() => 1)]);
          return tf.add(old[k], tf.mul(m, tf.sub(full(a), old[k])));
        });
      });
      old?.forEach((x) => x.dispose());
    }
    best = prevBest ? tf.maximum(prevBest, rows as tf.Tensor) : tf.clone(rows as tf.Tensor);
    prevBest?.dispose();
    (rows as tf.Tensor).dispose();
    if (t === steps || done() || Date.now() > cfg.deadlineMs) {
      grads.forEach((g) => g.dispose());
      break;
    }
    const lr = cfg.lr * Math.pow(cfg.lrDecay, t);
    const next = tf.tidy(() => {
      const nm = m.map((mm, k) => tf.add(tf.mul(mm, b1), tf.mul(grads[k], 1 - b1)));
      const nv = v.map((vv, k) => tf.add(tf.mul(vv, b2), tf.mul(tf.square(grads[k]), 1 - b2)));
      const c1 = 1 - Math.pow(b1, t + 1);
      const c2 = 1 - Math.pow(b2, t + 1);
      const na = alphas.map((a, k) => tf.clipByValue(tf.add(a, tf.mul(lr, tf.div(tf.div(nm[k], c1), tf.add(tf.sqrt(tf.div(nv[k], c2)), 1e-8)))), 0, 1));
      return { nm, nv, na };
    });
    [...grads, ...m, ...v, ...alphas].forEach((x) => x.dispose());
    m = next.nm;
    v = next.nv;
    alphas = next.na;
  }
  [...m, ...v, ...alphas].forEach((x) => x.dispose());
  if (bestAlphas) {
    emit(bestAlphas);
    (bestAlphas as tf.Tensor[]).forEach((x) => x.dispose());
  }
  return best as tf.Tensor;
}

/**
 * Tighten the bounds of every non-linear layer's unstable neurons (in layer order) with
 * slopes of the layers below optimised per neuron bound; the result is intersected with the
 * given (CROWN) bounds, so it is never looser. Call inside a tidy.
 */
function optimiseIntermediate(p: P, base: Interval, pre: (LowerUpper | undefined)[], cfg: Resolved, cert?: AlphaCertificate): void {
  let below = false; // whether a layer with free slopes lies below
  for (let i = 0; i < p.end; i++) {
    const lu = pre[i];
    if (!p.rels[i].needsInputBounds || !lu) continue;
    if (!below) {
      below = !!p.rels[i].initAlpha;
      continue; // the first non-linear layer's CROWN bound is already exact for the box
    }
    if (Date.now() > cfg.deadlineMs) return;
    const d = p.net.widthAt(i);
    const shape = p.net.shapes[i];
    const l = lu.lower.dataSync();
    const u = lu.upper.dataSync();
    const picked: number[] = [];
    for (let j = 0; j < d; j++) {
      for (let s = 0; s < p.n; s++) {
        if (l[s * d + j] < 0 && u[s * d + j] > 0) {
          picked.push(j);
          break;
        }
      }
    }
    if (picked.length === 0) continue;
    // chunks of neurons that fit the memory budget and keep one step short (the clock is checked between steps)
    const perRow = optimisedPassBytes(p.net, p.n, 1, i, cfg.shared);
    const byWork = Math.floor(FLOPS_PER_STEP / (3 * p.n * Math.max(1, backwardFlopsPerRow(p.net, i))));
    const chunk = Math.max(1, Math.floor(Math.min(rowsThatFit(perRow, p.budget), byWork) / 2));
    const lows: tf.Tensor[] = [];
    const ups: tf.Tensor[] = [];
    const slopeParts: Map<number, Float32Array>[] | undefined = cert ? [] : undefined;
    for (let c0 = 0; c0 < picked.length; c0 += chunk) {
      if (c0 > 0 && Date.now() > cfg.deadlineMs) {
        picked.length = c0; // the rest keep their CROWN bounds
        break;
      }
      const idx = picked.slice(c0, c0 + chunk);
      const c = idx.length;
      const sink: SlopeSink | undefined = slopeParts ? (sl) => slopeParts.push(sl) : undefined;
      const [lo, up] = tf.tidy(() => {
        const e = tf.oneHot(tf.tensor1d(idx, 'int32'), d).toFloat();
        const rows = tf.broadcastTo(tf.reshape(tf.concat([e, tf.neg(e)], 0), [1, 2 * c, ...shape]), [p.n, 2 * c, ...shape]);
        const res = optimiseRows(p, base, pre, rows, i, cfg.interIterations, cfg, undefined, sink);
        return [tf.slice(res, [0, 0], [p.n, c]), tf.neg(tf.slice(res, [0, c], [p.n, c]))];
      });
      lows.push(lo);
      ups.push(up);
    }
    if (cert && slopeParts) cert.intermediate.push(intermediateCertificate(i, picked, chunk, slopeParts, p.net));
    const indices = tf.tensor2d(picked, [picked.length, 1], 'int32');
    const scatter = (parts: tf.Tensor[]) => tf.reshape(tf.transpose(tf.scatterND(indices, tf.transpose(tf.concat(parts, 1)), [d, p.n])), [p.n, ...shape]);
    const mask = tf.broadcastTo(tf.reshape(tf.cast(tf.scatterND(indices, tf.ones([picked.length]), [d]), 'bool'), shape), lu.lower.shape);
    pre[i] = {
      lower: tf.where(mask, tf.maximum(lu.lower, scatter(lows)), lu.lower),
      upper: tf.where(mask, tf.minimum(lu.upper, scatter(ups)), lu.upper),
    };
  }
}

/**
 * One certificate from those of consecutive row chunks of the same box (alpha-CROWN called on
 * rows r0.., then on the next rows): the first chunk's intermediate part, every chunk's final
 * slopes in row order.
 */
export function mergeAlphaCertificates(certs: AlphaCertificate[]): AlphaCertificate {
  if (certs.length === 1) return certs[0];
  const final = new Map<number, Float32Array>();
  for (const li of certs[0].final.keys()) final.set(li, concatFlat(certs.map((c) => c.final.get(li) as Float32Array)));
  return { ...certs[0], final };
}

function concatFlat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

/**
 * Layer i's intermediate certificate from the slopes of its chunks of neurons (each chunk's
 * rows: its c lower-bound rows, then its c upper-bound rows).
 */
function intermediateCertificate(
  i: number,
  picked: number[],
  chunk: number,
  parts: Map<number, Float32Array>[],
  net: Network,
): AlphaCertificate['intermediate'][number] {
  const neurons = Int32Array.from(picked);
  const lower = new Map<number, Float32Array>();
  const upper = new Map<number, Float32Array>();
  for (const li of parts[0]?.keys() ?? []) {
    const w = net.widthAt(li);
    const lo = new Float32Array(picked.length * w);
    const up = new Float32Array(picked.length * w);
    parts.forEach((part, k) => {
      const c = Math.min(chunk, picked.length - k * chunk);
      const s = part.get(li) as Float32Array; // [2c * w]
      lo.set(s.subarray(0, c * w), k * chunk * w);
      up.set(s.subarray(c * w, 2 * c * w), k * chunk * w);
    });
    lower.set(li, lo);
    upper.set(li, up);
  }
  return { layer: i, neurons, lower, upper };
}

/**
 * alpha-CROWN (METHODS 3; Xu et al. 2021): the lower-line parameters of every relaxation
 * that offers them (ReLU: the lower slope of unstable neurons) are optimised by projected
 * Adam ascent with a decaying step size, starting from CROWN's choice, for the bounds of every
 * intermediate layer (per layer, in order) and for the final rows; the best bound seen per
 * row is kept and every bound is intersected with CROWN's, so it is never looser than CROWN.
 * Stops early once every spec row is above `stopAbove`, or at `deadlineMs`. Rows are taken in
 * chunks that fit the memory budget.
 */
export function alphaCrown(net: Network, box: InputBox, opts?: BoundOptions & AlphaCrownOptions): Bounds {
  const cfg = resolve(opts);
  const p = prepare(net, box, opts, 'alpha-crown');
  return tidyBounds(() => {
    const base = boxInterval(box);
    const state = crownState(p, base);
    if (cfg.iterations === 0 && !cfg.intermediate) return rowsToBounds(p, state.rows);
    const pre = state.pre.slice();
    if (opts?.certificate && p.n !== 1) throw new ConfigError(`alpha-CROWN certificates are for one box, got ${p.n}`, undefined, 'certificate');
    const cert: AlphaCertificate | undefined = opts?.certificate ? { intermediate: [], final: new Map(), pre: new Map() } : undefined;
    if (cfg.intermediate && cfg.interIterations > 0) optimiseIntermediate(p, base, pre, cfg, cert);
    const A0 = boundRows(p);
    const R = (A0.shape as number[])[1];
    let thresholds: tf.Tensor | undefined;
    if (cfg.stopAbove !== undefined && p.spec) {
      const M = p.spec.shape[1];
      const t = new Float32Array(R).fill(-Infinity); // upper rows (second half) never stop the loop
      for (let r = 0; r < M; r++) t[r] = typeof cfg.stopAbove === 'number' ? cfg.stopAbove : Number(cfg.stopAbove[r]);
      thresholds = tf.tensor2d(t, [1, R]);
    }
    const perRow = optimisedPassBytes(p.net, p.n, 1, p.end, cfg.shared);
    const chunk = Math.max(1, rowsThatFit(perRow, p.budget));
    const parts: tf.Tensor[] = [];
    const finalParts: Map<number, Float32Array>[] = [];
    const rest = (A0.shape as number[]).slice(2);
    for (let r0 = 0; r0 < R; r0 += chunk) {
      const c = Math.min(chunk, R - r0);
      parts.push(
        tf.tidy(() => {
          const rows = c === R ? A0 : tf.slice(A0, [0, r0, ...rest.map(() => 0)], [-1, c, ...rest.map(() => -1)]);
          const th = thresholds ? (c === R ? thresholds : tf.slice(thresholds, [0, r0], [1, c])) : undefined;
          return optimiseRows(p, base, pre, rows, p.end, cfg.iterations, cfg, th, cert ? (sl) => finalParts.push(sl) : undefined);
        }),
      );
    }
    if (cert && opts?.certificate) {
      for (const li of finalParts[0]?.keys() ?? []) cert.final.set(li, concatFlat(finalParts.map((f) => f.get(li) as Float32Array)));
      pre.forEach((lu, li) => lu && cert.pre.set(li, { lower: lu.lower.dataSync() as Float32Array, upper: lu.upper.dataSync() as Float32Array }));
      opts.certificate(cert);
    }
    const opt = parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    return rowsToBounds(p, tf.maximum(opt, state.rows));
  });
}
