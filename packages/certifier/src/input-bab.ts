/** Complete input-domain branch and bound (low-dimensional inputs). */
import { BoxOutcome, Ctx, Full, checkTime } from './verify-context';
import { boundRows, boxVerified, recheckBox } from './claims';
import { pgd } from './falsify';

/**
 * Complete input-domain branch and bound: bound a batch of sub-boxes, drop verified ones,
 * search the rest for a witness (centre + short projected gradient), and bisect each along
 * the input with the largest |gradient| * width.
 */
export function inputBab(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, opts: Full): BoxOutcome {
  const { D } = ctx;
  const stack: { lo: Float32Array; hi: Float32Array }[] = [{ lo: box.lower.slice(), hi: box.upper.slice() }];
  while (stack.length > 0) {
    checkTime(ctx);
    if (stack.length > opts.maxDomains) return { kind: 'unknown', method: 'input-bab' };
    const batch = stack.splice(Math.max(0, stack.length - opts.babBatch));
    const B = batch.length;
    const lo = new Float32Array(B * D),
      hi = new Float32Array(B * D);
    batch.forEach((d, b) => {
      lo.set(d.lo, b * D);
      hi.set(d.hi, b * D);
    });
    // a method that does not fit the memory budget for the batch falls back to IBP
    const lbs = boundRows(ctx, opts.babMethod, lo, hi, B) ?? boundRows(ctx, 'ibp', lo, hi, B);
    if (!lbs) return { kind: 'unknown', method: 'input-bab' };
    const open: number[] = [];
    for (let b = 0; b < B; b++) {
      if (!boxVerified(ctx, lbs, b, undefined, () => recheckBox(ctx, lo.subarray(b * D, (b + 1) * D), hi.subarray(b * D, (b + 1) * D), false))) open.push(b);
    }
    if (open.length === 0) continue;
    const olo = new Float32Array(open.length * D),
      ohi = new Float32Array(open.length * D);
    open.forEach((b, i) => {
      olo.set(lo.subarray(b * D, (b + 1) * D), i * D);
      ohi.set(hi.subarray(b * D, (b + 1) * D), i * D);
    });
    const r = pgd(ctx, olo, ohi, open.length, 1, Math.min(5, opts.pgdSteps), () => box);
    if (r.witness) return { kind: 'falsified', method: 'input-bab', ...r.witness };
    for (let i = 0; i < open.length; i++) {
      const b = open[i];
      const l = lo.slice(b * D, (b + 1) * D),
        h = hi.slice(b * D, (b + 1) * D);
      let best = -1,
        bestScore = -1,
        widest = -1,
        widestW = -1;
      for (let k = 0; k < D; k++) {
        const mid = l[k] + (h[k] - l[k]) / 2;
        if (!(mid > l[k] && mid < h[k])) continue; // not splittable in float32
        const w = h[k] - l[k];
        const s = w * Math.abs(r.centreGrad[i * D + k]);
        if (s > bestScore) {
          bestScore = s;
          best = k;
        }
        if (w > widestW) {
          widestW = w;
          widest = k;
        }
      }
      if (widest < 0) return { kind: 'unknown', method: 'input-bab' }; // an open domain that cannot be split
      const k = bestScore > 0 ? best : widest;
      const mid = l[k] + (h[k] - l[k]) / 2;
      const h1 = h.slice();
      h1[k] = mid;
      const l2 = l.slice();
      l2[k] = mid;
      stack.push({ lo: l, hi: h1 }, { lo: l2, hi: h });
    }
  }
  return { kind: 'verified', method: 'input-bab', complete: true };
}
