import { ConfigError, linfBoxFlat } from '@certkd/core';
import type { Network } from '@certkd/core';
import type { DecidingMethod, Verdict, VerdictKind } from './verdict';
import { isVerified } from './verdict';
import { robustnessDisjuncts } from './property';
import { VerifyOptions, evalFlat, verifyProperty } from './verify';

export interface PointResult {
  index: number;
  label: number;
  predicted: number;
  correct: boolean;
  verdict: Verdict;
}

export interface CertifySummary {
  total: number;
  correct: number;
  /** Points correctly classified AND verified. */
  certified: number;
  cleanAccuracy: number;
  certifiedAccuracy: number;
  byVerdict: Partial<Record<VerdictKind, number>>;
  byMethod: Partial<Record<DecidingMethod, number>>;
}

export interface CertifyPointsOptions extends VerifyOptions {
  eps: number;
  /** Valid input range the box is clipped to (default [0, 1]). */
  clip?: [number, number];
}

/** The L-inf box around a flat point, clipped to the valid range (core's linfBoxFlat). */
export const linfBox = linfBoxFlat;

/** Local robustness of one point: the predicted-correct check, then verifyProperty on the eps box. */
export function certifyPoint(net: Network, x: Float32Array, label: number, index: number, opts: CertifyPointsOptions): PointResult {
  if (!(opts.eps >= 0)) throw new ConfigError(`eps must be >= 0, got ${opts.eps}`, undefined, 'eps');
  const K = net.outputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(label) || label < 0 || label >= K)
    throw new ConfigError(`label ${label} of point ${index} is outside 0..${K - 1}`, undefined, 'labels');
  const y = evalFlat(net, x, 1);
  let predicted = 0;
  for (let j = 1; j < K; j++) if (y[j] > y[predicted]) predicted = j;
  const disjuncts = robustnessDisjuncts(label, K);
  const verdict = verifyProperty(net, { boxes: [linfBox(x, opts.eps, opts.clip)], disjuncts }, opts);
  return { index, label, predicted, correct: predicted === label, verdict };
}

/** Tally per-point results into certified accuracy and counts per verdict and deciding method. */
export function summarize(results: readonly PointResult[]): CertifySummary {
  const byVerdict: Partial<Record<VerdictKind, number>> = {};
  const byMethod: Partial<Record<DecidingMethod, number>> = {};
  let correct = 0,
    certified = 0;
  for (const r of results) {
    byVerdict[r.verdict.kind] = (byVerdict[r.verdict.kind] ?? 0) + 1;
    byMethod[r.verdict.method] = (byMethod[r.verdict.method] ?? 0) + 1;
    if (r.correct) correct++;
    if (r.correct && isVerified(r.verdict)) certified++;
  }
  const n = results.length;
  return { total: n, correct, certified, cleanAccuracy: n ? correct / n : 0, certifiedAccuracy: n ? certified / n : 0, byVerdict, byMethod };
}

/** Certify flat points xs[i] (network input order) with labels; returns per-point results and the summary. */
export function certifyDataset(
  net: Network,
  xs: readonly Float32Array[],
  labels: ArrayLike<number>,
  opts: CertifyPointsOptions & { onResult?: (r: PointResult) => void },
): { results: PointResult[]; summary: CertifySummary } {
  if (xs.length !== labels.length) throw new ConfigError(`${xs.length} points but ${labels.length} labels`, undefined, 'labels');
  const results: PointResult[] = [];
  xs.forEach((x, i) => {
    const r = certifyPoint(net, x, labels[i], i, opts);
    results.push(r);
    opts.onResult?.(r);
  });
  return { results, summary: summarize(results) };
}
