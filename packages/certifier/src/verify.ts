import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, NumericalError, SeededRng } from '@certkd/core';
import type { Attack, Network } from '@certkd/core';
import { DEFAULT_MEMORY_BUDGET, roundingErrorBound } from '@certkd/bounds';
import { CertifierBounds, builtinCertifierBounds } from './bound-source';
import { isBackendFault, markBackendFault } from './backend-health';
import { Net64 } from './recheck64';
import type { Verdict, DecidingMethod } from './verdict';
import { Property, checkProperty } from './property';
import { BoxOutcome, Ctx, Full, Timeout, checkTime, confirmWitness, elapsed, evalFlat, prod } from './verify-context';
import { boundRows, boxVerified, recheckBox } from './claims';
import { falsify } from './falsify';
import { inputBab } from './input-bab';
import { reluBab } from './relu-bab-search';

export { confirmWitness, evalFlat } from './verify-context';

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
  /** Starts per round of the built-in targeted projected-gradient falsifier (default 8: the centre and 7 random points; 0 disables). */
  pgdRestarts?: number;
  /** Steps of the built-in falsifier per round (default 100). */
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
  /**
   * ReLU B&B branching: 'babsr' splits the neuron with the best BaBSR-like score; 'fsb'
   * (filtered smart branching) bounds both children of each of the best `fsbCandidates` by that
   * score and splits the one whose worse child is best (default 'babsr').
   */
  branching?: 'babsr' | 'fsb';
  /** Candidates per domain that 'fsb' bounds (default 3). */
  fsbCandidates?: number;
  /** Bound methods and relaxations (this thread only; default: the built-in plugins). */
  bounds?: CertifierBounds;
  /**
   * Share of the budget the falsifier's long rounds may spend, after IBP and CROWN and before
   * alpha-CROWN and branch and bound (default 0.15; at least one round runs). One short round
   * runs before any bound.
   */
  attackShare?: number;
  /**
   * Bytes the large tensors of one bound call may take (default 512 MiB): rows and sub-domains
   * are chunked to fit, and a method that cannot fit even one row is skipped.
   */
  memoryBudget?: number;
  /** alpha-CROWN steps on the whole box (default 20) and whether it optimises the intermediate layers' slopes (default true). */
  alphaIterations?: number;
  alphaIntermediate?: boolean;
}

function verifyBox(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Full): BoxOutcome {
  const { net, D } = ctx;
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
  // 3. built-in targeted projected-gradient falsifier: one short round before any bound (the
  // long rounds run after the cheap bounds, before alpha-CROWN and branch and bound)
  // the long rounds get attackShare of the budget from when they start (after the cheap bounds)
  const share = opts.attackShare * (ctx.deadline - ctx.start);
  let attackUntil = Date.now() + share;
  if (opts.pgdRestarts > 0) {
    const w = falsify(ctx, box, Math.min(opts.pgdRestarts, 4), Math.min(opts.pgdSteps, 20), 1, attackUntil);
    if (w) return { kind: 'falsified', method: 'pgd', ...w };
  }
  // the re-check of verified claims over this box: float64 recomputation, or else the a priori
  // float32 rounding error bound of every later bound
  ctx.root64 = null;
  ctx.rootCrown64 = null;
  ctx.alphaRoot = null;
  if (!ctx.net64) {
    ctx.rounding = roundingErrorBound(net, box, { relaxations: ctx.bounds.relaxations });
    for (let r = 0; r < ctx.R; r++) ctx.slack[r] = opts.inexactRows[r] ? Infinity : ctx.rounding.rowSlack(ctx.Cflat.subarray(r * ctx.K, (r + 1) * ctx.K));
  }
  // 4. incomplete bound methods, cheap ones first; more falsification rounds before the costly ones
  let attacked = opts.pgdRestarts === 0;
  let last: DecidingMethod = 'none';
  for (const m of opts.methods) {
    checkTime(ctx);
    if (m === 'alpha-crown' && !attacked) {
      attacked = true;
      attackUntil = Date.now() + share;
      {
        const w = falsify(ctx, box, opts.pgdRestarts, opts.pgdSteps, 1 << 20, attackUntil);
        if (w) return { kind: 'falsified', method: 'pgd', ...w };
      }
    }
    const lbs = boundRows(ctx, m, box.lower, box.upper, 1);
    if (!lbs) continue; // does not fit the memory budget: skipped
    last = m;
    if (boxVerified(ctx, lbs, 0, undefined, () => recheckBox(ctx, box.lower, box.upper, true))) return { kind: 'verified', method: m, complete: false };
  }
  if (!attacked) {
    attackUntil = Date.now() + share;
    const w = falsify(ctx, box, opts.pgdRestarts, opts.pgdSteps, 1 << 20, attackUntil);
    if (w) return { kind: 'falsified', method: 'pgd', ...w };
  }
  if (!opts.branchAndBound) return { kind: 'unknown', method: last };
  const mode = opts.babMode === 'auto' ? (D <= opts.inputSplitMaxDim ? 'input' : 'relu') : opts.babMode;
  return mode === 'input' ? inputBab(ctx, box, opts) : reluBab(ctx, box, opts);
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
    if (!(VERIFY_METHODS as readonly string[]).includes(m))
      throw new ConfigError(`unknown method '${m}' (methods: ${VERIFY_METHODS.join(', ')})`, undefined, 'methods');
  }
  if (opts.babMode !== undefined && !['auto', 'input', 'relu'].includes(opts.babMode)) {
    throw new ConfigError(`babMode must be 'auto', 'input' or 'relu', got '${String(opts.babMode)}'`, undefined, 'babMode');
  }
  if (opts.babIters !== undefined && !(Number.isInteger(opts.babIters) && opts.babIters >= 0)) {
    throw new ConfigError(`babIters must be an integer >= 0, got ${opts.babIters}`, undefined, 'babIters');
  }
  if (opts.branching !== undefined && opts.branching !== 'babsr' && opts.branching !== 'fsb') {
    throw new ConfigError(`branching must be 'babsr' or 'fsb', got '${String(opts.branching)}'`, undefined, 'branching');
  }
  if (opts.fsbCandidates !== undefined && !(Number.isInteger(opts.fsbCandidates) && opts.fsbCandidates >= 1)) {
    throw new ConfigError(`fsbCandidates must be an integer >= 1, got ${opts.fsbCandidates}`, undefined, 'fsbCandidates');
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
  const attackShare = opts.attackShare ?? 0.15;
  if (!(attackShare >= 0 && attackShare <= 1)) throw new ConfigError(`attackShare must be in [0, 1], got ${attackShare}`, undefined, 'attackShare');
  const budget = opts.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  if (!(budget > 0)) throw new ConfigError(`memoryBudget must be > 0 bytes, got ${budget}`, undefined, 'memoryBudget');
  const Cflat = new Float32Array(R * K),
    dvec = new Float32Array(R),
    d64 = new Float64Array(R);
  let r = 0;
  for (const conj of property.disjuncts)
    for (const row of conj) {
      Cflat.set(row.c, r * K);
      dvec[r] = row.d;
      // a claim c·y > d must hold for the property's own (decimal) d, which the parsed float64
      // is only within half a step of: the float64 claims take d one relative step higher
      d64[r] = row.d + Math.abs(row.d) * 2 ** -52;
      r++;
    }
  // A row's coefficients are used in float32 by the bounds: a row whose coefficients are not
  // float32 numbers is bounded as rounded, which would change the property; refuse a verified
  // claim for such rows by an infinite slack (falsification is unaffected: witnesses are checked
  // with the exact rows).
  const inexact = property.disjuncts.flat().map((row) => row.c.some((c) => Math.fround(c) !== c));
  const ctx: Ctx = {
    net,
    inShape: net.inputShape,
    D,
    K,
    disjuncts: property.disjuncts,
    offsets,
    R,
    Cflat,
    dvec,
    d64,
    start,
    deadline: start + timeoutS * 1000,
    rng: opts.rng ?? new SeededRng(0),
    bounds: opts.bounds ?? builtinCertifierBounds(),
    slack: new Float64Array(R),
    rounding: null,
    downgrades: 0,
    skipped: [],
    budget,
    net64: Net64.from(net),
    rows64: property.disjuncts.flat().map((row) => row.c.slice()),
    root64: null,
    rootCrown64: null,
    alphaRoot: null,
    alphaIterations: opts.alphaIterations ?? 20,
    alphaIntermediate: opts.alphaIntermediate ?? true,
  };
  const full = {
    timeoutS,
    methods,
    falsifier: opts.falsifier,
    branchAndBound: opts.branchAndBound ?? true,
    babMethod: opts.babMethod ?? 'crown',
    babBatch: opts.babBatch ?? 64,
    maxDomains: opts.maxDomains ?? 200_000,
    pgdRestarts: opts.pgdRestarts ?? 8,
    pgdSteps: opts.pgdSteps ?? 100,
    babMode: opts.babMode ?? 'auto',
    inputSplitMaxDim: opts.inputSplitMaxDim ?? 8,
    babIters: opts.babIters ?? 8,
    babRefine: opts.babRefine ?? false,
    branching: opts.branching ?? 'babsr',
    fsbCandidates: opts.fsbCandidates ?? 3,
    bounds: ctx.bounds,
    attackShare,
    memoryBudget: budget,
    alphaIterations: ctx.alphaIterations,
    alphaIntermediate: ctx.alphaIntermediate,
    inexactRows: inexact,
  };
  if (property.disjuncts.length === 0) return { kind: 'verified-complete', method: 'none', time_s: elapsed(ctx) };
  const broken = nonFiniteParam(net);
  if (broken)
    return {
      kind: 'error',
      method: 'none',
      message: `the network parameter ${broken} is not finite (NaN or infinity); no verdict is possible`,
      time_s: elapsed(ctx),
    };
  if (Date.now() > ctx.deadline) return { kind: 'timeout', method: 'none', time_s: elapsed(ctx) };
  let method: DecidingMethod = 'none';
  let complete = true;
  let unknown = false;
  // Soundness notes carried by every verdict: claims refused by the rounding re-check, methods skipped for memory.
  const notes = () => ({ ...(ctx.downgrades ? { downgraded: ctx.downgrades } : {}), ...(ctx.skipped.length ? { skipped: [...ctx.skipped] } : {}) });
  try {
    for (const box of property.boxes) {
      const o = verifyBox(ctx, box, full);
      if (o.kind === 'falsified') {
        return { kind: 'falsified', method: o.method, witness: o.x, disjunct: o.disjunct, output: o.output, time_s: elapsed(ctx), ...notes() };
      }
      if (o.kind === 'unknown') {
        unknown = true;
        method = o.method;
        continue;
      }
      if (!o.complete) complete = false;
      if (!unknown) method = rank(o.method) > rank(method) ? o.method : method;
    }
  } catch (e) {
    if (e instanceof Timeout) return { kind: 'timeout', method: 'none', time_s: elapsed(ctx), ...notes() };
    if (isBackendFault(e)) {
      markBackendFault();
      return { kind: 'error', method, message: `backend fault: ${(e as Error).message}`, time_s: elapsed(ctx), ...notes() };
    }
    return { kind: 'error', method, message: (e as Error).message, time_s: elapsed(ctx), ...notes() };
  }
  if (unknown) return { kind: 'unknown', method, time_s: elapsed(ctx), ...notes() };
  return complete && (method === 'input-bab' || method === 'relu-bab')
    ? { kind: 'verified-complete', method, time_s: elapsed(ctx), ...notes() }
    : { kind: 'verified-incomplete', method, time_s: elapsed(ctx), ...notes() };
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
