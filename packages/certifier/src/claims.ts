/** Bounding a property's rows and accepting a claim only after the sound re-check (float64 form, or the a priori float32 slack). */
import * as tf from '@tensorflow/tfjs-core';
import { mergeAlphaCertificates, methodFits, methodRowBytes, rowsThatFit } from '@certkd/bounds';
import type { AlphaCertificate, BoundOptions } from '@certkd/bounds';
import { Bounds64, Net64 } from './recheck64';
import { Ctx, ROWS_PER_BOUND_CALL, checkTime } from './verify-context';
import type { VerifyMethod } from './verify';

/**
 * Lower bounds of c_r·y (without d_r) for B flat boxes, [B*R]. Rows are bounded in chunks (at
 * most ROWS_PER_BOUND_CALL, and as many as fit the memory budget) with the clock checked
 * between layers, chunks and optimisation steps, so that neither many rows nor a large network
 * overruns the budget (each row's bound is computed on its own by every method, so chunking
 * does not change the bounds' validity). Returns null when the method does not fit the memory
 * budget for B boxes (the caller falls back to a cheaper method).
 */
export function boundRows(ctx: Ctx, method: VerifyMethod, lo: Float32Array, hi: Float32Array, B: number): Float32Array | null {
  const { R, K } = ctx;
  if (!methodFits(ctx.net, method, B, ctx.budget)) {
    if (!ctx.skipped.includes(method)) ctx.skipped.push(method);
    return null;
  }
  const perRow = methodRowBytes(ctx.net, method, B);
  const rowsPerCall = Math.max(1, Math.min(ROWS_PER_BOUND_CALL, rowsThatFit(perRow, ctx.budget)));
  const out = new Float32Array(B * R);
  const bm = ctx.bounds.method(method);
  const interrupt = () => checkTime(ctx);
  // alpha-CROWN on one box hands over its slopes (if the method offers them) so that the
  // float64 re-check can recompute its bounds, and branch and bound can start from them
  const certs: AlphaCertificate[] = [];
  const wantCert = method === 'alpha-crown' && B === 1 && ctx.net64 !== null;
  for (let r0 = 0; r0 < R; r0 += rowsPerCall) {
    checkTime(ctx);
    const n = Math.min(rowsPerCall, R - r0);
    const part = tf.tidy(() => {
      const box = { lower: tf.tensor(lo, [B, ...ctx.inShape]), upper: tf.tensor(hi, [B, ...ctx.inShape]) };
      const spec = tf.tile(tf.tensor3d(ctx.Cflat.subarray(r0 * K, (r0 + n) * K), [1, n, K]), [B, 1, 1]) as tf.Tensor3D;
      const o: BoundOptions & Record<string, unknown> = { spec, interrupt, memoryBudget: ctx.budget, lowerOnly: true };
      if (method === 'alpha-crown') {
        // stop once every row clears its threshold (with the rounding slack); never past the budget
        o.stopAbove = Array.from(ctx.dvec.subarray(r0, r0 + n), (d, k) => d + ctx.slack[r0 + k]);
        // at most a third of the time left, so that branch and bound keeps the rest
        o.deadlineMs = Date.now() + (ctx.deadline - Date.now()) / 3;
        o.iterations = ctx.alphaIterations;
        o.intermediate = ctx.alphaIntermediate;
        if (wantCert) o.certificate = (c: AlphaCertificate) => certs.push(c);
      }
      const b = bm.compute(ctx.net, box, o);
      return b.lower.dataSync() as Float32Array;
    });
    for (let b = 0; b < B; b++) out.set(part.subarray(b * n, (b + 1) * n), b * R + r0);
  }
  if (wantCert && certs.length * rowsPerCall >= R) ctx.alphaRoot = { lower: lo, upper: hi, cert: mergeAlphaCertificates(certs) };
  return out;
}

/**
 * Whether row r of box/sub-domain b is proved: its float32 lower bound minus d_r exceeds the
 * rounding error bound (computed in float64). `extra` adds a per-row slack (beta terms).
 */
export function rowProved(ctx: Ctx, lbs: Float32Array, b: number, r: number, extra?: Float64Array): boolean {
  const lb = lbs[b * ctx.R + r];
  const margin = lb - ctx.d64[r];
  return margin > ctx.slack[r] + (extra ? extra[b * ctx.R + r] : 0);
}

/** Whether every disjunct has a row whose value in `v` (lower bounds of c_r·y) exceeds d_r. */
export function allDisjunctsAbove(ctx: Ctx, v: ArrayLike<number>, off = 0): boolean {
  return ctx.disjuncts.every((conj, j) => {
    for (let r = 0; r < conj.length; r++) if (v[off + ctx.offsets[j] + r] - ctx.d64[ctx.offsets[j] + r] > 0) return true;
    return false;
  });
}

/**
 * Whether box/sub-domain b is verified. The float32 lower bounds `lbs` make the claim; it
 * counts only if the sound re-check confirms it: the float64 recomputation `recheck` (sound
 * lower bounds per row, or null for a sub-domain proved empty) when the network has a float64
 * form, else the a priori float32 rounding slack (rowProved). A refused claim is counted in
 * ctx.downgrades. `empty` marks a sub-domain the float32 bounds found empty (also re-checked).
 */
export function boxVerified(ctx: Ctx, lbs: Float32Array, b: number, extra?: Float64Array, recheck?: () => number[] | null, empty = false): boolean {
  const naive = empty || allDisjunctsAbove(ctx, lbs, b * ctx.R);
  if (!naive) return false;
  let sound: boolean;
  if (ctx.net64) {
    const v = recheck ? recheck() : undefined;
    sound = v === null || (v !== undefined && allDisjunctsAbove(ctx, v));
  } else {
    sound =
      !empty &&
      ctx.disjuncts.every((conj, j) => {
        for (let r = 0; r < conj.length; r++) if (rowProved(ctx, lbs, b, ctx.offsets[j] + r, extra)) return true;
        return false;
      });
    if (empty) sound = true; // the float32 path's emptiness test already uses the sound gap tolerance
  }
  if (!sound) ctx.downgrades++;
  return sound;
}

/**
 * The float64 recomputation of alpha-CROWN's intermediate bounds of the box lo..hi (CROWN's
 * intersected with those of alpha-CROWN's slopes), when alpha-CROWN bounded this box and gave
 * its slopes; computed once per box. `bounds` null: the box is empty.
 */
export function alphaRoot64(ctx: Ctx, lo: Float32Array, hi: Float32Array): { cert: AlphaCertificate; bounds: Bounds64 | null } | null {
  const a = ctx.alphaRoot;
  if (!a || !ctx.net64 || a.lower !== lo || a.upper !== hi) return null;
  if (a.bounds64 === undefined) {
    a.bounds64 = ctx.net64.bounds(Float64Array.from(lo), Float64Array.from(hi), { check: () => checkTime(ctx), crown: true, alpha: a.cert });
  }
  return { cert: a.cert, bounds: a.bounds64 };
}

/** Sound float64 lower bounds of every row over the box lo..hi (its own CROWN bounds, and alpha-CROWN's where it gave its slopes), or null when empty. */
export function recheckBox(ctx: Ctx, lo: Float32Array, hi: Float32Array, reuseRoot: boolean): number[] | null {
  const net64 = ctx.net64 as Net64;
  const lo64 = Float64Array.from(lo);
  const hi64 = Float64Array.from(hi);
  let bb: Bounds64 | null;
  const check = () => checkTime(ctx);
  if (reuseRoot) {
    ctx.root64 ??= net64.bounds(lo64, hi64, { check });
    bb = ctx.root64;
  } else bb = net64.bounds(lo64, hi64, { check });
  checkTime(ctx);
  const rows = bb ? net64.rowLower(ctx.rows64, lo64, hi64, bb) : null;
  if (rows === null || allDisjunctsAbove(ctx, rows)) return rows;
  // alpha-CROWN's claim on this box: its bounds recomputed from its slopes, row by row the better
  const alpha = alphaRoot64(ctx, lo, hi);
  if (alpha?.bounds) {
    const certs = ctx.rows64.map((_, r) => ({ alpha: net64.slopeRow(alpha.cert.final, r) }));
    const v = net64.rowLower(ctx.rows64, lo64, hi64, alpha.bounds, certs);
    // with CROWN's slopes too: the alpha bounds include CROWN's intermediate bounds of every unstable neuron
    const w = net64.rowLower(ctx.rows64, lo64, hi64, alpha.bounds);
    return rows.map((x, r) => Math.max(x, v[r], w[r]));
  }
  if (net64.crownIntermediate) return rows;
  // Interval intermediate bounds (networks with expanded convolutions) did not confirm the
  // claim: take a CROWN pass per unstable neuron now, which costs about a second on a small CNN.
  const tight = net64.bounds(lo64, hi64, { check, crown: true });
  checkTime(ctx);
  return tight ? net64.rowLower(ctx.rows64, lo64, hi64, tight) : null;
}
