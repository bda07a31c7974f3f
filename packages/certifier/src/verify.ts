import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, NumericalError, SeededRng } from '@certkd/core';
import type { Attack, Network } from '@certkd/core';
import { alphaCrown, crown, ibp } from '@certkd/bounds';
import type { OutputRow, Verdict, DecidingMethod } from './verdict';
import { Property, checkProperty } from './property';
import { Domain, boundBatch, pickNeuron, splitProblem } from './relu-bab';

export const VERIFY_METHODS = ['ibp', 'crown', 'alpha-crown'] as const;
export type VerifyMethod = (typeof VERIFY_METHODS)[number];

export interface VerifyOptions {
  /** Wall-clock budget in seconds (default 60). */
  timeoutS?: number;
  /**
   * When the budget started (Date.now() milliseconds; default: when verifyProperty is called).
   * Lets a caller count its own preparation, such as reading the files, against timeoutS.
   */
  startMs?: number;
  /** Incomplete bound methods tried in order on the whole box (default ibp, crown, alpha-crown). */
  methods?: VerifyMethod[];
  /** Optional falsifying attack (maximises cross-entropy of the centre's predicted class). */
  falsifier?: Attack;
  rng?: SeededRng;
  /** Run the complete input-splitting branch and bound after the incomplete methods (default true). */
  branchAndBound?: boolean;
  /** Bound method used on sub-domains (default crown). */
  babMethod?: VerifyMethod;
  /** Sub-domains bounded together (default 64). */
  babBatch?: number;
  /** Give up with 'unknown' beyond this many open sub-domains (default 200000). */
  maxDomains?: number;
  /** Random restarts of the built-in projected-gradient falsifier (default 4; 0 disables). */
  pgdRestarts?: number;
  /** Steps of the built-in falsifier (default 20). */
  pgdSteps?: number;
  /**
   * Branch-and-bound kind: 'input' splits the input box, 'relu' splits unstable ReLUs,
   * 'auto' (default) uses input splitting up to `inputSplitMaxDim` inputs, else ReLU splitting.
   */
  babMode?: 'auto' | 'input' | 'relu';
  /** Largest input dimension for which 'auto' picks input splitting (default 8). */
  inputSplitMaxDim?: number;
  /** Gradient steps on alpha/beta per ReLU-B&B batch (default 8; 0 = CROWN slopes). */
  babIters?: number;
  /** ReLU B&B: recompute intermediate bounds after a split with CROWN (default false: root CROWN ∩ interval bounds; beta carries the splits). */
  babRefine?: boolean;
}

interface Ctx {
  net: Network;
  inShape: number[];
  D: number;
  K: number;
  disjuncts: OutputRow[][];
  /** Row offsets of each disjunct in the stacked rows. */
  offsets: number[];
  R: number;
  Cflat: Float32Array; // [R, K]
  dvec: Float32Array; // [R]
  start: number;
  deadline: number;
  rng: SeededRng;
}

const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

/** Most spec rows bounded in one call of a bound method (see boundRows). */
const ROWS_PER_BOUND_CALL = 128;
/** Most (sub-domain, spec row) pairs ReLU branch and bound bounds in one batch. */
const BAB_ROWS_PER_BATCH = 4096;

/** Thrown internally when the budget is spent. */
class Timeout extends Error {}

function checkTime(ctx: Ctx): void {
  if (Date.now() > ctx.deadline) throw new Timeout('timeout');
}

/** Outputs of the network at B flat inputs, [B*K]. */
export function evalFlat(net: Network, xs: Float32Array, B: number): Float32Array {
  return tf.tidy(() => net.predict(tf.tensor(xs, [B, ...net.inputShape])).dataSync() as Float32Array);
}

/**
 * Plain re-check of a candidate witness: finite, inside the box, with a finite network output
 * at which every row of some disjunct holds. Returns the disjunct and the output, or null. A
 * point whose output is NaN or infinite is never a counterexample (not even for a disjunct
 * without rows), since no real-valued output was computed there.
 */
export function confirmWitness(
  net: Network,
  x: Float32Array,
  box: { lower: Float32Array; upper: Float32Array },
  disjuncts: OutputRow[][],
): { disjunct: number; output: Float32Array } | null {
  for (let k = 0; k < x.length; k++) if (!(x[k] >= box.lower[k] && x[k] <= box.upper[k])) return null;
  const y = evalFlat(net, x, 1);
  if (!y.every(Number.isFinite)) return null;
  for (let j = 0; j < disjuncts.length; j++) {
    if (disjuncts[j].every((r) => r.c.reduce((s, c, i) => s + c * y[i], 0) <= r.d)) return { disjunct: j, output: y };
  }
  return null;
}

function elapsed(ctx: Ctx): number {
  return (Date.now() - ctx.start) / 1000;
}

/** Per-sample objective min_j max_{r in j} (c_r·y - d_r): <= 0 exactly where the unsafe region is reached. */
function objective(ctx: Ctx, y: tf.Tensor2D): tf.Tensor1D {
  const C = tf.tensor2d(ctx.Cflat, [ctx.R, ctx.K]);
  const v = tf.sub(tf.matMul(y, C, false, true), tf.tensor1d(ctx.dvec)); // [B, R]
  const per = ctx.disjuncts.map((conj, j) => tf.max(tf.slice(v, [0, ctx.offsets[j]], [-1, conj.length]), 1));
  return tf.min(tf.stack(per, 1), 1) as tf.Tensor1D;
}

/**
 * Projected sign-gradient descent of the objective inside B boxes; returns a confirmed
 * witness or null. Also returns the objective gradient at each box centre (for split choice).
 */
function pgd(
  ctx: Ctx,
  lo: Float32Array,
  hi: Float32Array,
  B: number,
  restarts: number,
  steps: number,
  boxOf: (b: number) => { lower: Float32Array; upper: Float32Array },
): { witness: { x: Float32Array; disjunct: number; output: Float32Array } | null; centreGrad: Float32Array } {
  const { D, net } = ctx;
  const n = B * Math.max(1, restarts);
  const x0 = new Float32Array(n * D);
  for (let s = 0; s < n; s++) {
    const b = s % B;
    const random = s >= B;
    for (let k = 0; k < D; k++) {
      const l = lo[b * D + k], h = hi[b * D + k];
      x0[s * D + k] = random ? l + (h - l) * ctx.rng.next() : l + (h - l) / 2;
    }
  }
  const shape = [n, ...ctx.inShape];
  const lowT = tf.tidy(() => tf.tile(tf.tensor(lo, [B, ...ctx.inShape]), [Math.max(1, restarts), ...ctx.inShape.map(() => 1)]));
  const highT = tf.tidy(() => tf.tile(tf.tensor(hi, [B, ...ctx.inShape]), [Math.max(1, restarts), ...ctx.inShape.map(() => 1)]));
  const gradFn = tf.grad((x: tf.Tensor) => tf.sum(objective(ctx, net.predict(x))));
  let x = tf.tensor(x0, shape);
  let centreGrad = new Float32Array(B * D);
  const tryFind = (): { x: Float32Array; disjunct: number; output: Float32Array } | null => {
    const vals = tf.tidy(() => objective(ctx, net.predict(x)).dataSync());
    let xs: Float32Array | null = null;
    for (let s = 0; s < n; s++) {
      if (vals[s] <= 0) {
        xs ??= x.dataSync() as Float32Array;
        const cand = xs.slice(s * D, (s + 1) * D);
        const ok = confirmWitness(net, cand, boxOf(s % B), ctx.disjuncts);
        if (ok) return { x: cand, ...ok };
      }
    }
    return null;
  };
  try {
    let found = tryFind();
    for (let t = 0; t < steps && !found; t++) {
      checkTime(ctx);
      const frac = 0.25 * Math.pow(0.02 / 0.25, t / Math.max(1, steps - 1));
      const next = tf.tidy(() => {
        const g = gradFn(x);
        if (t === 0) centreGrad = (tf.slice(g.reshape([n, D]), [0, 0], [B, D]).dataSync() as Float32Array).slice();
        const step = tf.mul(tf.sub(highT, lowT), frac);
        return tf.minimum(highT, tf.maximum(lowT, tf.sub(x, tf.mul(step, tf.sign(g)))));
      });
      x.dispose();
      x = next;
      found = tryFind();
    }
    return { witness: found, centreGrad };
  } finally {
    x.dispose();
    lowT.dispose();
    highT.dispose();
  }
}

/**
 * Lower bounds of c_r·y - d_r for B flat boxes, [B*R]. Rows are bounded in chunks of
 * ROWS_PER_BOUND_CALL with the clock checked between chunks, so that a property with very many
 * rows cannot overrun the budget inside one bound call (each row's bound is computed on its
 * own by every method, so chunking does not change the bounds' validity).
 */
function boundRows(ctx: Ctx, method: VerifyMethod, lo: Float32Array, hi: Float32Array, B: number): Float32Array {
  const { R, K } = ctx;
  const out = new Float32Array(B * R);
  const fn = method === 'ibp' ? ibp : method === 'crown' ? crown : alphaCrown;
  for (let r0 = 0; r0 < R; r0 += ROWS_PER_BOUND_CALL) {
    if (r0 > 0) checkTime(ctx);
    const n = Math.min(ROWS_PER_BOUND_CALL, R - r0);
    const part = tf.tidy(() => {
      const box = { lower: tf.tensor(lo, [B, ...ctx.inShape]), upper: tf.tensor(hi, [B, ...ctx.inShape]) };
      const spec = tf.tile(tf.tensor3d(ctx.Cflat.subarray(r0 * K, (r0 + n) * K), [1, n, K]), [B, 1, 1]) as tf.Tensor3D;
      const b = fn(ctx.net, box, { spec });
      return tf.sub(b.lower, tf.tensor2d(ctx.dvec.subarray(r0, r0 + n), [1, n])).dataSync() as Float32Array;
    });
    for (let b = 0; b < B; b++) out.set(part.subarray(b * n, (b + 1) * n), b * R + r0);
  }
  return out;
}

/** Whether every disjunct has a row whose lower bound is > 0 in box b. */
function boxVerified(ctx: Ctx, lbs: Float32Array, b: number): boolean {
  return ctx.disjuncts.every((conj, j) => {
    for (let r = 0; r < conj.length; r++) if (lbs[b * ctx.R + ctx.offsets[j] + r] > 0) return true;
    return false;
  });
}

type BoxOutcome =
  | { kind: 'verified'; method: DecidingMethod; complete: boolean }
  | { kind: 'falsified'; method: DecidingMethod; x: Float32Array; disjunct: number; output: Float32Array }
  | { kind: 'unknown'; method: DecidingMethod };

function verifyBox(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Required<Omit<VerifyOptions, 'falsifier' | 'rng' | 'startMs'>> & { falsifier?: Attack }): BoxOutcome {
  const { net, D } = ctx;
  const boxOf = () => box;
  // 1. clean check at the centre
  const centre = new Float32Array(D);
  for (let k = 0; k < D; k++) centre[k] = box.lower[k] + (box.upper[k] - box.lower[k]) / 2;
  const clean = confirmWitness(net, centre, box, ctx.disjuncts);
  if (clean) return { kind: 'falsified', method: 'clean', x: centre, ...clean };
  // A disjunct without rows holds at every finite output, so past this point the output at the
  // centre is NaN or infinite, or no disjunct is empty (the bound methods need rows).
  if (!evalFlat(net, centre, 1).every(Number.isFinite)) {
    throw new NumericalError('the network output at the centre of the input box is not finite (NaN or infinity); no verdict is possible');
  }
  // 2. injected attack
  if (opts.falsifier) {
    checkTime(ctx);
    const cand = tf.tidy(() => {
      const xc = tf.tensor(centre, [1, ...ctx.inShape]);
      const label = tf.argMax(net.predict(xc), 1).toFloat() as tf.Tensor1D;
      const bt = { lower: tf.tensor(box.lower, [1, ...ctx.inShape]), upper: tf.tensor(box.upper, [1, ...ctx.inShape]) };
      const res = opts.falsifier!.run(net, xc, label, bt, ctx.rng);
      return res.x.dataSync() as Float32Array;
    });
    const ok = confirmWitness(net, cand, box, ctx.disjuncts);
    if (ok) return { kind: 'falsified', method: 'attack', x: cand, ...ok };
  }
  // 3. built-in projected-gradient falsifier
  if (opts.pgdRestarts > 0) {
    const r = pgd(ctx, box.lower, box.upper, 1, opts.pgdRestarts, opts.pgdSteps, boxOf);
    if (r.witness) return { kind: 'falsified', method: 'pgd', ...r.witness };
  }
  // 4. incomplete bound methods
  for (const m of opts.methods) {
    checkTime(ctx);
    const lbs = boundRows(ctx, m, box.lower, box.upper, 1);
    if (boxVerified(ctx, lbs, 0)) return { kind: 'verified', method: m, complete: false };
  }
  if (!opts.branchAndBound) return { kind: 'unknown', method: opts.methods[opts.methods.length - 1] ?? 'none' };
  const mode = opts.babMode === 'auto' ? (D <= opts.inputSplitMaxDim ? 'input' : 'relu') : opts.babMode;
  return mode === 'input' ? inputBab(ctx, box, opts) : reluBab(ctx, box, opts);
}

/**
 * Complete input-domain branch and bound: bound a batch of sub-boxes, drop verified ones,
 * search the rest for a witness (centre + short projected gradient), and bisect each along
 * the input with the largest |gradient| * width.
 */
function inputBab(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Required<Omit<VerifyOptions, 'falsifier' | 'rng' | 'startMs'>>): BoxOutcome {
  const { D } = ctx;
  const stack: { lo: Float32Array; hi: Float32Array }[] = [{ lo: box.lower.slice(), hi: box.upper.slice() }];
  while (stack.length > 0) {
    checkTime(ctx);
    if (stack.length > opts.maxDomains) return { kind: 'unknown', method: 'input-bab' };
    const batch = stack.splice(Math.max(0, stack.length - opts.babBatch));
    const B = batch.length;
    const lo = new Float32Array(B * D), hi = new Float32Array(B * D);
    batch.forEach((d, b) => {
      lo.set(d.lo, b * D);
      hi.set(d.hi, b * D);
    });
    const lbs = boundRows(ctx, opts.babMethod, lo, hi, B);
    const open: number[] = [];
    for (let b = 0; b < B; b++) if (!boxVerified(ctx, lbs, b)) open.push(b);
    if (open.length === 0) continue;
    const olo = new Float32Array(open.length * D), ohi = new Float32Array(open.length * D);
    open.forEach((b, i) => {
      olo.set(lo.subarray(b * D, (b + 1) * D), i * D);
      ohi.set(hi.subarray(b * D, (b + 1) * D), i * D);
    });
    const r = pgd(ctx, olo, ohi, open.length, 1, Math.min(5, opts.pgdSteps), () => box);
    if (r.witness) return { kind: 'falsified', method: 'input-bab', ...r.witness };
    for (let i = 0; i < open.length; i++) {
      const b = open[i];
      const l = lo.slice(b * D, (b + 1) * D), h = hi.slice(b * D, (b + 1) * D);
      let best = -1, bestScore = -1, widest = -1, widestW = -1;
      for (let k = 0; k < D; k++) {
        const mid = l[k] + (h[k] - l[k]) / 2;
        if (!(mid > l[k] && mid < h[k])) continue; // not splittable in float32
        const w = h[k] - l[k];
        const s = w * Math.abs(r.centreGrad[i * D + k]);
        if (s > bestScore) { bestScore = s; best = k; }
        if (w > widestW) { widestW = w; widest = k; }
      }
      if (widest < 0) return { kind: 'unknown', method: 'input-bab' }; // an open domain that cannot be split
      const k = bestScore > 0 ? best : widest;
      const mid = l[k] + (h[k] - l[k]) / 2;
      const h1 = h.slice(); h1[k] = mid;
      const l2 = l.slice(); l2[k] = mid;
      stack.push({ lo: l, hi: h1 }, { lo: l2, hi: h });
    }
  }
  return { kind: 'verified', method: 'input-bab', complete: true };
}

/**
 * Complete ReLU branch and bound: sub-domains (split sign per unstable ReLU) are bounded in
 * batches with split-aware alpha/beta-CROWN (relu-bab.ts); verified and empty ones are
 * dropped; the box corner minimising each open row's bound is checked as a witness; every
 * open domain is split on the neuron with the best BaBSR-like score.
 */
function reluBab(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Required<Omit<VerifyOptions, 'falsifier' | 'rng' | 'startMs'>>): BoxOutcome {
  const { D, R } = ctx;
  const p = splitProblem(ctx.net);
  const zero = (): Int8Array[] => p.widths.map((w) => new Int8Array(w));
  const checkTimeHere = () => checkTime(ctx);
  const rootRes = boundBatch(p, box, [{ splits: zero(), depth: 0 }], ctx.Cflat, R, { iters: 0, lr: 0.1, dvec: ctx.dvec, checkTime: checkTimeHere });
  // Many rows make each domain's alpha/beta tensors large: fewer domains per batch keep memory and step time bounded.
  const batchSize = Math.max(1, Math.min(opts.babBatch, Math.floor(BAB_ROWS_PER_BATCH / Math.max(1, R))));
  const root = rootRes.pre;
  const stack: Domain[] = [{ splits: zero(), depth: 0 }];
  let rounds = 0;
  while (stack.length > 0) {
    checkTime(ctx);
    if (stack.length > opts.maxDomains) return { kind: 'unknown', method: 'relu-bab' };
    const batch = stack.splice(Math.max(0, stack.length - batchSize));
    const B = batch.length;
    const res = boundBatch(p, box, batch, ctx.Cflat, R, { root, iters: opts.babIters, lr: 0.1, dvec: ctx.dvec, refine: opts.babRefine, checkTime: checkTimeHere });
    const lbs = new Float32Array(B * R);
    for (let k = 0; k < B * R; k++) lbs[k] = res.lbs[k] - ctx.dvec[k % R];
    // witness candidates: the minimisers of the open rows' linear bounds
    const cands: number[] = [];
    for (let b = 0; b < B; b++) {
      if (res.infeasible[b]) continue;
      for (let r = 0; r < R; r++) if (lbs[b * R + r] <= 0) cands.push(b * R + r);
    }
    if (cands.length > 0) {
      const xs = new Float32Array(cands.length * D);
      cands.forEach((c, k) => xs.set(res.argmin.subarray(c * D, (c + 1) * D), k * D));
      const ys = evalFlat(ctx.net, xs, cands.length);
      for (let k = 0; k < cands.length; k++) {
        const y = ys.subarray(k * ctx.K, (k + 1) * ctx.K);
        if (ctx.disjuncts.some((conj) => conj.every((row) => row.c.reduce((s, c, i) => s + c * y[i], 0) <= row.d))) {
          const x = xs.slice(k * D, (k + 1) * D);
          const ok = confirmWitness(ctx.net, x, box, ctx.disjuncts);
          if (ok) return { kind: 'falsified', method: 'relu-bab', x, ...ok };
        }
      }
    }
    const open: number[] = [];
    for (let b = 0; b < B; b++) if (!res.infeasible[b] && !boxVerified(ctx, lbs, b)) open.push(b);
    if (open.length > 0 && ++rounds % 8 === 0) {
      const r = pgd(ctx, box.lower, box.upper, 1, 8, opts.pgdSteps, () => box);
      if (r.witness) return { kind: 'falsified', method: 'relu-bab', ...r.witness };
    }
    for (const b of open) {
      const openRows: number[] = [];
      ctx.disjuncts.forEach((conj, j) => {
        let proved = false;
        for (let r = 0; r < conj.length; r++) if (lbs[b * R + ctx.offsets[j] + r] > 0) proved = true;
        if (!proved) for (let r = 0; r < conj.length; r++) openRows.push(ctx.offsets[j] + r);
      });
      const pick = pickNeuron(p, res, b, R, openRows);
      if (!pick) return { kind: 'unknown', method: 'relu-bab' }; // no unstable neuron left, bound still open
      const [q, j] = pick;
      for (const sign of [-1, 1]) {
        const splits = batch[b].splits.map((s) => s.slice());
        splits[q][j] = sign;
        stack.push({ splits, depth: batch[b].depth + 1 });
      }
    }
  }
  return { kind: 'verified', method: 'relu-bab', complete: true };
}

/**
 * Verify a property by escalation: clean check at the box centre, optional injected attack,
 * built-in projected-gradient falsifier, the given bound methods on the whole box, then
 * complete input-domain branch and bound. Falsified verdicts carry a witness that passed a
 * plain forward re-check; verified is never reported once a witness is known.
 */
export function verifyProperty(net: Network, property: Property, opts: VerifyOptions = {}): Verdict {
  const timeoutS = opts.timeoutS ?? 60;
  if (!(timeoutS > 0)) throw new ConfigError(`timeoutS must be > 0, got ${timeoutS}`, undefined, 'timeoutS');
  const methods = opts.methods ?? [...VERIFY_METHODS];
  for (const m of [...methods, opts.babMethod ?? 'crown']) {
    if (!(VERIFY_METHODS as readonly string[]).includes(m)) throw new ConfigError(`unknown method '${m}' (methods: ${VERIFY_METHODS.join(', ')})`, undefined, 'methods');
  }
  if (opts.babMode !== undefined && !['auto', 'input', 'relu'].includes(opts.babMode)) {
    throw new ConfigError(`babMode must be 'auto', 'input' or 'relu', got '${String(opts.babMode)}'`, undefined, 'babMode');
  }
  if (opts.babIters !== undefined && !(Number.isInteger(opts.babIters) && opts.babIters >= 0)) {
    throw new ConfigError(`babIters must be an integer >= 0, got ${opts.babIters}`, undefined, 'babIters');
  }
  const D = prod(net.inputShape);
  const K = prod(net.outputShape);
  checkProperty(property, D, K);
  const start = opts.startMs ?? Date.now();
  const offsets: number[] = [];
  let R = 0;
  for (const conj of property.disjuncts) {
    offsets.push(R);
    R += conj.length;
  }
  const Cflat = new Float32Array(R * K), dvec = new Float32Array(R);
  let r = 0;
  for (const conj of property.disjuncts) for (const row of conj) { Cflat.set(row.c, r * K); dvec[r] = row.d; r++; }
  const ctx: Ctx = { net, inShape: net.inputShape, D, K, disjuncts: property.disjuncts, offsets, R, Cflat, dvec, start, deadline: start + timeoutS * 1000, rng: opts.rng ?? new SeededRng(0) };
  const full = {
    timeoutS, methods, falsifier: opts.falsifier,
    branchAndBound: opts.branchAndBound ?? true, babMethod: opts.babMethod ?? 'crown', babBatch: opts.babBatch ?? 64,
    maxDomains: opts.maxDomains ?? 200_000, pgdRestarts: opts.pgdRestarts ?? 4, pgdSteps: opts.pgdSteps ?? 20,
    babMode: opts.babMode ?? 'auto', inputSplitMaxDim: opts.inputSplitMaxDim ?? 8, babIters: opts.babIters ?? 8, babRefine: opts.babRefine ?? false,
  };
  if (property.disjuncts.length === 0) return { kind: 'verified-complete', method: 'none', time_s: elapsed(ctx) };
  const broken = nonFiniteParam(net);
  if (broken) return { kind: 'error', method: 'none', message: `the network parameter ${broken} is not finite (NaN or infinity); no verdict is possible`, time_s: elapsed(ctx) };
  if (Date.now() > ctx.deadline) return { kind: 'timeout', method: 'none', time_s: elapsed(ctx) };
  let method: DecidingMethod = 'none';
  let complete = true;
  let unknown = false;
  try {
    for (const box of property.boxes) {
      const o = verifyBox(ctx, box, full);
      if (o.kind === 'falsified') {
        return { kind: 'falsified', method: o.method, witness: o.x, disjunct: o.disjunct, output: o.output, time_s: elapsed(ctx) };
      }
      if (o.kind === 'unknown') { unknown = true; method = o.method; continue; }
      if (!o.complete) complete = false;
      if (!unknown) method = rank(o.method) > rank(method) ? o.method : method;
    }
  } catch (e) {
    if (e instanceof Timeout) return { kind: 'timeout', method: 'none', time_s: elapsed(ctx) };
    return { kind: 'error', method, message: (e as Error).message, time_s: elapsed(ctx) };
  }
  if (unknown) return { kind: 'unknown', method, time_s: elapsed(ctx) };
  return complete && (method === 'input-bab' || method === 'relu-bab')
    ? { kind: 'verified-complete', method, time_s: elapsed(ctx) }
    : { kind: 'verified-incomplete', method, time_s: elapsed(ctx) };
}

/** The name of the first parameter holding NaN or an infinity, or undefined. */
function nonFiniteParam(net: Network): string | undefined {
  for (const [name, v] of net.namedParams()) {
    const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(v))).dataSync()[0]);
    if (bad) return name;
  }
  return undefined;
}

const RANK: DecidingMethod[] = ['none', 'clean', 'attack', 'pgd', 'ibp', 'crown', 'alpha-crown', 'input-bab', 'relu-bab'];
const rank = (m: DecidingMethod) => RANK.indexOf(m);
