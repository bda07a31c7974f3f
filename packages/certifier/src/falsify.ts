/** Falsification inside a property's boxes: a targeted projected-gradient search on the property's own rows. */
import * as tf from '@tensorflow/tfjs-core';
import { Ctx, checkTime, confirmWitness } from './verify-context';

/**
 * Per-sample objective min_j max_{r in j} (c_r·y - d_r): <= 0 exactly where the unsafe region
 * is reached. `mask` ([n, J], 1 = allowed) restricts sample s to the disjuncts it targets.
 */
export function objective(ctx: Ctx, y: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor1D {
  const C = tf.tensor2d(ctx.Cflat, [ctx.R, ctx.K]);
  const v = tf.sub(tf.matMul(y, C, false, true), tf.tensor1d(ctx.dvec)); // [B, R]
  const per = ctx.disjuncts.map((conj, j) => (conj.length ? tf.max(tf.slice(v, [0, ctx.offsets[j]], [-1, conj.length]), 1) : tf.fill([y.shape[0]], -1e30)));
  let all = tf.stack(per, 1) as tf.Tensor2D; // [B, J]
  if (mask) all = tf.add(all, tf.mul(tf.sub(1, mask), 1e30));
  return tf.min(all, 1) as tf.Tensor1D;
}

/**
 * Targeted projected-gradient falsifier inside B boxes: sample s starts at the centre of its
 * box (s < B) or at a random point, and descends the objective of the disjunct it targets
 * (restart k targets disjunct k-1 mod J, restart 0 all of them: the violation margin of each
 * disjunct's own rows is maximised in turn) with sign steps, heavy-ball momentum (0.75, as in
 * APGD) and a step size decaying from a quarter of the box width to 1%. `starts` replace the
 * first random starts (each aimed at all disjuncts, or at its own): e.g. the points where the
 * linear bounds of branch and bound's weakest sub-domains are lowest. Returns a confirmed
 * witness or null, and the objective gradient at each box centre (for split choice).
 */
export function pgd(
  ctx: Ctx,
  lo: Float32Array,
  hi: Float32Array,
  B: number,
  restarts: number,
  steps: number,
  boxOf: (b: number) => { lower: Float32Array; upper: Float32Array },
  starts: { x: Float32Array; disjunct?: number }[] = [],
): { witness: { x: Float32Array; disjunct: number; output: Float32Array } | null; centreGrad: Float32Array } {
  const { D, net } = ctx;
  const reps = Math.max(1, restarts);
  const n = B * reps;
  const J = ctx.disjuncts.length;
  const x0 = new Float32Array(n * D);
  const maskv = new Float32Array(n * J);
  for (let s = 0; s < n; s++) {
    const b = s % B;
    const k = Math.floor(s / B);
    const random = s >= B;
    const given = random ? starts[s - B] : undefined;
    if (given) {
      for (let j = 0; j < J; j++) maskv[s * J + j] = given.disjunct === undefined || given.disjunct === j ? 1 : 0;
      x0.set(given.x, s * D);
      continue;
    }
    for (let j = 0; j < J; j++) maskv[s * J + j] = k === 0 || J === 1 || (k - 1) % J === j ? 1 : 0;
    for (let i = 0; i < D; i++) {
      const l = lo[b * D + i],
        h = hi[b * D + i];
      x0[s * D + i] = random ? l + (h - l) * ctx.rng.next() : l + (h - l) / 2;
    }
  }
  const shape = [n, ...ctx.inShape];
  const tileBox = (v: Float32Array) => tf.tidy(() => tf.tile(tf.tensor(v, [B, ...ctx.inShape]), [reps, ...ctx.inShape.map(() => 1)]));
  const lowT = tileBox(lo);
  const highT = tileBox(hi);
  const mask = tf.tensor2d(maskv, [n, J]);
  const gradFn = tf.grad((x: tf.Tensor) => tf.sum(objective(ctx, net.predict(x) as tf.Tensor2D, mask)));
  let x = tf.tensor(x0, shape);
  let prev = tf.clone(x);
  let centreGrad = new Float32Array(B * D);
  const tryFind = (): { x: Float32Array; disjunct: number; output: Float32Array } | null => {
    const vals = tf.tidy(() => objective(ctx, net.predict(x) as tf.Tensor2D).dataSync());
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
      const frac = 0.25 * Math.pow(0.01 / 0.25, t / Math.max(1, steps - 1));
      const next = tf.tidy(() => {
        const g = gradFn(x);
        if (t === 0) centreGrad = (tf.slice(g.reshape([n, D]), [0, 0], [B, D]).dataSync() as Float32Array).slice();
        const step = tf.mul(tf.sub(highT, lowT), frac);
        const proj = (v: tf.Tensor) => tf.minimum(highT, tf.maximum(lowT, v));
        const z = proj(tf.sub(x, tf.mul(step, tf.sign(g))));
        // x + 0.75 (z - x) + 0.25 (x - prev)
        return t === 0 ? z : proj(tf.add(tf.add(x, tf.mul(tf.sub(z, x), 0.75)), tf.mul(tf.sub(x, prev), 0.25)));
      });
      prev.dispose();
      prev = x;
      x = next;
      found = tryFind();
    }
    return { witness: found, centreGrad };
  } finally {
    x.dispose();
    prev.dispose();
    lowT.dispose();
    highT.dispose();
    mask.dispose();
  }
}

/**
 * Falsification phase: rounds of `restarts` targeted PGD starts (pgd) until a witness is
 * found, `rounds` rounds have run, or the share of the budget is spent (one round always runs).
 */
export function falsify(ctx: Ctx, box: { lower: Float32Array; upper: Float32Array }, restarts: number, steps: number, rounds: number, untilMs: number) {
  for (let k = 0; k < rounds; k++) {
    if (k > 0 && Date.now() > untilMs) break;
    const r = pgd(ctx, box.lower, box.upper, 1, restarts, steps, () => box);
    if (r.witness) return r.witness;
  }
  return null;
}
