/** Complete ReLU branch and bound: the search over sub-domains, bounded through the bounds engine's hooks (relu-bab.ts). */
import { backwardFlopsPerRow, optimisedPassBytes, rowsThatFit } from '@certkd/bounds';
import { Bounds64, Net64, RowCertificate } from './recheck64';
import { BoundBatchResult, Domain, boundBatch, rankNeurons, splitProblem } from './relu-bab';
import { BAB_FLOPS_PER_STEP, BAB_ROWS_PER_BATCH, BoxOutcome, Ctx, Full, STEP_MS, checkTime, confirmWitness, evalFlat } from './verify-context';
import { alphaRoot64, boxVerified, rowProved } from './claims';
import { pgd } from './falsify';

/**
 * Complete ReLU branch and bound: sub-domains (split sign per unstable ReLU) are bounded in
 * batches with split-aware alpha/beta-CROWN (relu-bab.ts); verified and empty ones are
 * dropped; the box corner minimising each open row's bound is checked as a witness, and every
 * fourth batch seeds a projected-gradient attack from the weakest domains' corners; every
 * open domain is split on the neuron with the best BaBSR-like score.
 */
export function reluBab(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Full): BoxOutcome {
  const { D, R } = ctx;
  const p = splitProblem(ctx.net, ctx.bounds.relaxations);
  const zero = (): Int8Array[] => p.widths.map((w) => new Int8Array(w));
  const checkTimeHere = () => checkTime(ctx);
  // Sound tolerances from the rounding error bound: a domain is empty only beyond twice a
  // neuron's bound error; beta terms add their own error to each row (betaSlack).
  const rb = ctx.rounding;
  const gapTol = rb ? p.nl.map((i) => Float32Array.from(rb.pre.get(i) ?? [], (t) => Math.fround(2 * t + 1e-6) * (1 + 1e-6))) : undefined;
  const betaWeights = rb ? p.nl.map((i) => Float32Array.from(rb.mag.get(i) ?? [], (m) => Math.fround(rb.termFactor(i) * m * (1 + 1e-6)))) : undefined;
  // early-stop targets of the optimisation: d plus the rounding slack
  const targets = Float32Array.from(ctx.dvec, (d, r) => d + ctx.slack[r]);
  const common = { lr: 0.1, dvec: targets, checkTime: checkTimeHere, gapTol, betaWeights };
  const rootRes = boundBatch(p, box, [{ splits: zero(), depth: 0 }], ctx.Cflat, R, { ...common, iters: 0 });
  // Domains per batch: as many as the memory budget allows for their slopes, multipliers and tape.
  // Domains per batch: as many as the memory budget allows for their slopes, multipliers and
  // tape, and few enough that one optimisation step stays short (the clock is checked between steps).
  const perDomain = optimisedPassBytes(ctx.net, 1, R) * 2;
  const byWork = Math.floor(BAB_FLOPS_PER_STEP / Math.max(1, R * backwardFlopsPerRow(ctx.net)));
  const maxBatch = Math.max(1, Math.min(opts.babBatch, Math.floor(BAB_ROWS_PER_BATCH / Math.max(1, R)), rowsThatFit(perDomain, ctx.budget)));
  // start from the work estimate, then follow the measured step time (STEP_MS per optimisation step)
  let batchSize = Math.max(1, Math.min(maxBatch, byWork));
  // The root's intermediate bounds: CROWN's, intersected with alpha-CROWN's optimised ones when
  // alpha-CROWN bounded this box and its slopes can be re-checked (then the sub-domain re-checks
  // start from their float64 recomputation).
  const alpha = ctx.net64?.crownIntermediate ? alphaRoot64(ctx, box.lower, box.upper) : null;
  const root = rootRes.pre;
  if (alpha?.bounds) {
    ctx.rootCrown64 = alpha.bounds;
    p.nl.forEach((li, q) => {
      const a = alpha.cert.pre.get(li);
      if (!a) return;
      const { lower, upper } = root[q];
      for (let k = 0; k < lower.length; k++) {
        if (a.lower[k] > lower[k]) lower[k] = a.lower[k];
        if (a.upper[k] < upper[k]) upper[k] = a.upper[k];
      }
    });
  }
  const stack: Domain[] = [{ splits: zero(), depth: 0 }];
  let rounds = 0;
  while (stack.length > 0) {
    checkTime(ctx);
    if (stack.length > opts.maxDomains) return { kind: 'unknown', method: 'relu-bab' };
    const batch = stack.splice(Math.max(0, stack.length - batchSize));
    const B = batch.length;
    const t0 = Date.now();
    const res = boundBatch(p, box, batch, ctx.Cflat, R, { ...common, root, iters: opts.babIters, refine: opts.babRefine });
    const stepMs = (Date.now() - t0) / (opts.babIters + 2);
    if (stepMs > STEP_MS) batchSize = Math.max(1, Math.floor((B * STEP_MS) / stepMs));
    else if (stepMs < STEP_MS / 3 && B === batchSize) batchSize = Math.min(maxBatch, Math.ceil(batchSize * 1.5));
    const lbs = res.lbs; // lower bounds of c_r·y (without d_r)
    // witness candidates: the minimisers of the open rows' linear bounds
    const cands: number[] = [];
    for (let b = 0; b < B; b++) {
      if (res.infeasible[b]) continue;
      for (let r = 0; r < R; r++) if (lbs[b * R + r] - ctx.d64[r] <= 0) cands.push(b * R + r);
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
    const leafCheck = (b: number) => () => {
      const net64 = ctx.net64 as Net64;
      const lo64 = Float64Array.from(box.lower);
      const hi64 = Float64Array.from(box.upper);
      // The float32 search's root bounds are CROWN's for every layer: so are these (for networks
      // with expanded convolutions the re-check's default intermediate bounds are interval ones).
      ctx.rootCrown64 ??= net64.crownIntermediate
        ? (ctx.root64 ??= net64.bounds(lo64, hi64, { check: checkTimeHere }))
        : net64.bounds(lo64, hi64, { check: checkTimeHere, crown: true });
      const bb = net64.bounds(lo64, hi64, { clamp: batch[b].splits, root: ctx.rootCrown64 as Bounds64 });
      if (!bb) return null;
      const certs: RowCertificate[] = [];
      for (let r = 0; r < R; r++) {
        const part = (arr: (Float32Array | undefined)[]) => arr.map((a, q) => a?.subarray((b * R + r) * p.widths[q], (b * R + r + 1) * p.widths[q]));
        certs.push({ alpha: part(res.alphas), beta: part(res.betas), signs: batch[b].splits });
      }
      checkTime(ctx);
      return net64.rowLower(ctx.rows64, lo64, hi64, bb, certs);
    };
    for (let b = 0; b < B; b++) if (!boxVerified(ctx, lbs, b, res.betaSlack, leafCheck(b), res.infeasible[b])) open.push(b);
    if (open.length > 0 && ++rounds % 4 === 0) {
      // attacks inside the weakest open sub-domains: projected gradient from the points where
      // their lowest rows' linear bounds are lowest, aimed at those rows' disjuncts
      const weak: { m: number; c: number; j: number }[] = [];
      for (const b of open)
        ctx.disjuncts.forEach((conj, j) => {
          for (let r = 0; r < conj.length; r++) {
            const c = b * R + ctx.offsets[j] + r;
            weak.push({ m: lbs[c] - ctx.d64[ctx.offsets[j] + r], c, j });
          }
        });
      weak.sort((a, b) => a.m - b.m);
      const starts = weak.slice(0, 7).map(({ c, j }) => ({ x: res.argmin.slice(c * D, (c + 1) * D), disjunct: j }));
      const r = pgd(ctx, box.lower, box.upper, 1, 8, opts.pgdSteps, () => box, starts);
      if (r.witness) return { kind: 'falsified', method: 'relu-bab', ...r.witness };
    }
    const openRowsOf = (b: number): number[] => {
      const openRows: number[] = [];
      ctx.disjuncts.forEach((conj, j) => {
        let proved = false;
        for (let r = 0; r < conj.length; r++) if (rowProved(ctx, lbs, b, ctx.offsets[j] + r, res.betaSlack)) proved = true;
        if (!proved) for (let r = 0; r < conj.length; r++) openRows.push(ctx.offsets[j] + r);
      });
      return openRows;
    };
    const picks = open.map((b) => {
      const openRows = openRowsOf(b);
      return { b, openRows, cands: rankNeurons(p, res, b, R, openRows, opts.branching === 'fsb' ? opts.fsbCandidates : 1) };
    });
    if (picks.some((x) => x.cands.length === 0)) return { kind: 'unknown', method: 'relu-bab' }; // no unstable neuron left, bound still open
    const chosen =
      opts.branching === 'fsb'
        ? filteredSmartBranching(picks, batch, (children) => boundBatch(p, box, children, ctx.Cflat, R, { ...common, root, iters: 0 }), ctx.d64, R, maxBatch)
        : picks.map((x) => x.cands[0]);
    picks.forEach(({ b }, k) => {
      const [q, j] = chosen[k];
      for (const sign of [-1, 1]) stack.push(splitChild(batch[b], q, j, sign));
    });
  }
  return { kind: 'verified', method: 'relu-bab', complete: true };
}

/**
 * Filtered smart branching (De Palma et al. 2021): of each open domain's best candidates by the
 * BaBSR-like score, take the one whose worse child has the best bound, the children bounded
 * with CROWN slopes on the domain's clamped intermediate bounds (one pass each, batched). A
 * child's value is its open rows' smallest lower bound minus threshold; an empty child counts
 * as +Infinity. `bound` bounds a batch of domains.
 */
export function filteredSmartBranching(
  picks: { b: number; openRows: number[]; cands: [number, number][] }[],
  batch: readonly Domain[],
  bound: (children: Domain[]) => BoundBatchResult,
  d: Float64Array,
  R: number,
  maxBatch: number,
): [number, number][] {
  const children: Domain[] = [];
  const owner: { pick: number; cand: number }[] = [];
  picks.forEach(({ b, cands }, pick) =>
    cands.forEach(([q, j], cand) => {
      for (const sign of [-1, 1]) {
        children.push(splitChild(batch[b], q, j, sign));
        owner.push({ pick, cand });
      }
    }),
  );
  const worst = picks.map(({ cands }) => cands.map(() => Infinity));
  for (let c0 = 0; c0 < children.length; c0 += maxBatch) {
    const part = children.slice(c0, c0 + maxBatch);
    const res = bound(part);
    part.forEach((_, k) => {
      const { pick, cand } = owner[c0 + k];
      if (res.infeasible[k]) return;
      let v = Infinity;
      for (const r of picks[pick].openRows) v = Math.min(v, res.lbs[k * R + r] - d[r]);
      worst[pick][cand] = Math.min(worst[pick][cand], v);
    });
  }
  return picks.map(({ cands }, pick) => {
    let best = 0; // ties keep the BaBSR order
    for (let c = 1; c < cands.length; c++) if (worst[pick][c] > worst[pick][best]) best = c;
    return cands[best];
  });
}

/** The child of domain d with neuron j of nl layer q split to `sign` (-1 inactive, 1 active). */
function splitChild(d: Domain, q: number, j: number, sign: number): Domain {
  const splits = d.splits.map((s) => s.slice());
  splits[q][j] = sign;
  return { splits, depth: d.depth + 1 };
}
