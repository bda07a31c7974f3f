/** The state of one verifyProperty call that its steps share: the property's rows, the clock, the re-check's state and the resolved options. */
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@certkd/core';
import type { Attack, Network } from '@certkd/core';
import type { AlphaCertificate, RoundingErrorBound } from '@certkd/bounds';
import { CertifierBounds } from './bound-source';
import { Bounds64, Net64 } from './recheck64';
import type { OutputRow, DecidingMethod } from './verdict';
import type { VerifyOptions } from './verify';

export interface Ctx {
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
  /** The row bounds d_r as given (float64), for the verified checks. */
  d64: Float64Array;
  bounds: CertifierBounds;
  start: number;
  deadline: number;
  rng: SeededRng;
  /** Sound float32 error bound of a computed lower bound of each row (float64, [R]). */
  slack: Float64Array;
  rounding: RoundingErrorBound | null;
  /** The float64 form of the network for the sound re-check (null: layers it does not cover; the a priori float32 slack is used). */
  net64: Net64 | null;
  /** The property's rows as given (float64). */
  rows64: number[][];
  /** Sound float64 bounds of the current box (computed at the first claim). */
  root64: Bounds64 | null;
  /** The same with CROWN intermediate bounds on every network (the root of ReLU branch and bound's re-checks). */
  rootCrown64: Bounds64 | null;
  /**
   * The slopes behind alpha-CROWN's bounds of the whole box `lower`..`upper` (its intermediate
   * bounds are the root of ReLU branch and bound), and their float64 recomputation.
   */
  alphaRoot: { lower: Float32Array; upper: Float32Array; cert: AlphaCertificate; bounds64?: Bounds64 | null } | null;
  /** Claims (a box or sub-domain verified by the float32 bound) that failed the rounding re-check. */
  downgrades: number;
  /** Methods skipped because they do not fit the memory budget. */
  skipped: string[];
  budget: number;
  alphaIterations: number;
  alphaIntermediate: boolean;
}

export const prod = (a: readonly number[]) => a.reduce((x, y) => x * y, 1);

/** Most spec rows bounded in one call of a bound method (see boundRows). */
export const ROWS_PER_BOUND_CALL = 128;

/** Most (sub-domain, spec row) pairs ReLU branch and bound bounds in one batch. */
export const BAB_ROWS_PER_BATCH = 4096;

/** Multiply-adds of one backward pass of a batch (the first batch's size; later ones follow STEP_MS). */
export const BAB_FLOPS_PER_STEP = 1.5e8;

/** Target milliseconds of one branch-and-bound optimisation step (the clock is checked between steps). */
export const STEP_MS = 300;

/** Thrown internally when the budget is spent. */
export class Timeout extends Error {}

export function checkTime(ctx: Ctx): void {
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

export function elapsed(ctx: Ctx): number {
  return (Date.now() - ctx.start) / 1000;
}

/** Resolved options of one verifyProperty call. */
export type Full = Required<Omit<VerifyOptions, 'falsifier' | 'rng' | 'startMs'>> & { falsifier?: Attack; inexactRows: boolean[] };

export type BoxOutcome =
  | { kind: 'verified'; method: DecidingMethod; complete: boolean }
  | { kind: 'falsified'; method: DecidingMethod; x: Float32Array; disjunct: number; output: Float32Array }
  | { kind: 'unknown'; method: DecidingMethod };
