import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { alphaCrown, crown } from '@certkd/bounds';
import type { AlphaCertificate } from '@certkd/bounds';
import { verifyProperty } from './verify';
import { Bounds64, Net64 } from './recheck64';
import type { OutputRow } from './verdict';

/** A deep narrow ReLU network: alpha-CROWN's optimised intermediate bounds matter on it. */
function deepNet(seed: number, inputs: number, width: number, depth: number): Network {
  const layers: object[] = [];
  for (let k = 0; k < depth; k++) layers.push({ kind: 'dense', units: width, useBias: true }, { kind: 'relu' });
  layers.push({ kind: 'dense', units: 3, useBias: true });
  return Network.create({ inputShape: [inputs], layers } as never, new SeededRng(seed));
}

function boxOf(seed: number, inputs: number, r: number) {
  const rng = new SeededRng(500 + seed);
  const c = Array.from({ length: inputs }, () => rng.next());
  return { lo: Float32Array.from(c, (v) => v - r), hi: Float32Array.from(c, (v) => v + r) };
}

/** Rows e_0 - e_1 and e_0 - e_2 (a robustness property of class 0). */
const ROWS = [
  [1, -1, 0],
  [1, 0, -1],
];

function bounds32(n: Network, lo: Float32Array, hi: Float32Array, alpha: boolean, certificate?: (c: AlphaCertificate) => void): Float32Array {
  return tf.tidy(() => {
    const box = { lower: tf.tensor2d(lo, [1, lo.length]), upper: tf.tensor2d(hi, [1, hi.length]) };
    const spec = tf.tensor3d(ROWS.flat(), [1, 2, 3]);
    const o = { spec, lowerOnly: true };
    const b = alpha ? alphaCrown(n, box, { ...o, iterations: 30, certificate }) : crown(n, box, o);
    return b.lower.dataSync() as Float32Array;
  });
}

describe("alpha-CROWN's certificate and its float64 re-check", () => {
  it('the float64 recomputation from the returned slopes reproduces every intermediate and final bound', () => {
    const before = tf.memory().numTensors;
    let worstPre = 0;
    let worstRow = 0;
    let tightened = 0;
    let tighter64 = 0;
    let outside = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const n = deepNet(seed, 6, 20, 4);
      const { lo, hi } = boxOf(seed, 6, 0.4);
      let cert: AlphaCertificate | undefined;
      const lb = bounds32(n, lo, hi, true, (c) => (cert = c));
      expect(cert).toBeDefined();
      const c = cert as AlphaCertificate;
      expect(c.intermediate.length).toBeGreaterThan(0);
      const net64 = Net64.from(n) as Net64;
      const lo64 = Float64Array.from(lo),
        hi64 = Float64Array.from(hi);
      const crown64 = net64.bounds(lo64, hi64, { crown: true }) as Bounds64;
      const alpha64 = net64.bounds(lo64, hi64, { crown: true, alpha: c }) as Bounds64;
      // layer by layer (ReLU q is network layer 2q + 1): the float64 bounds match the float32 ones
      alpha64.lower.forEach((l64, q) => {
        const pre = c.pre.get(2 * q + 1) as { lower: Float32Array; upper: Float32Array };
        for (let k = 0; k < l64.length; k++) {
          worstPre = Math.max(
            worstPre,
            (pre.lower[k] - l64[k]) / Math.max(1, Math.abs(pre.lower[k])),
            (alpha64.upper[q][k] - pre.upper[k]) / Math.max(1, Math.abs(pre.upper[k])),
          );
          tighter64 = Math.max(tighter64, l64[k] - pre.lower[k], pre.upper[k] - alpha64.upper[q][k]);
          if (alpha64.upper[q][k] - l64[k] < crown64.upper[q][k] - crown64.lower[q][k] - 1e-3) tightened++;
        }
      });
      // and they hold: every ReLU's input at 300 sampled points lies inside them
      const rng = new SeededRng(900 + seed);
      for (let t = 0; t < 300; t++) {
        let h = Array.from(lo, (l, i) => l + (hi[i] - l) * rng.next());
        let q = 0;
        n.layers.forEach((layer, i) => {
          if (layer.kind === 'dense') {
            const W = n.param(i, 'kernel').dataSync();
            const b = n.param(i, 'bias').dataSync();
            h = Array.from(b, (bj, j) => h.reduce((s, x, k) => s + x * W[k * b.length + j], bj));
          } else if (layer.kind === 'relu') {
            h.forEach((z, k) => {
              if (z < alpha64.lower[q][k] || z > alpha64.upper[q][k]) outside++;
            });
            h = h.map((z) => Math.max(0, z));
            q++;
          }
        });
      }
      const certs = ROWS.map((_, r) => ({ alpha: net64.slopeRow(c.final, r) }));
      const v = net64.rowLower(ROWS, lo64, hi64, alpha64, certs);
      const w = net64.rowLower(ROWS, lo64, hi64, alpha64);
      const v0 = net64.rowLower(ROWS, lo64, hi64, crown64);
      for (let r = 0; r < ROWS.length; r++) worstRow = Math.max(worstRow, (lb[r] - Math.max(v[r], w[r], v0[r])) / Math.max(1, Math.abs(lb[r])));
      n.dispose();
    }
    // float64 bounds are never tighter than the float32 ones by more than rounding, nor looser
    expect(outside).toBe(0);
    expect(worstPre).toBeLessThan(1e-4);
    expect(worstRow).toBeLessThan(1e-4);
    expect(tightened).toBeGreaterThan(0); // the optimised intermediate bounds are really used
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a claim only alpha-CROWN proves stands after the re-check (it was refused when the re-check took CROWN slopes)', () => {
    let found = 0;
    for (let seed = 1; seed <= 12 && found < 2; seed++) {
      const n = deepNet(seed, 6, 20, 4);
      const { lo, hi } = boxOf(seed, 6, 0.3);
      const crownLb = bounds32(n, lo, hi, false);
      const alphaLb = bounds32(n, lo, hi, true);
      // a threshold between CROWN's and alpha-CROWN's bound of the weaker row: only alpha-CROWN proves it
      const r = crownLb[0] < crownLb[1] ? 0 : 1;
      const gap = alphaLb[r] - crownLb[r];
      if (!(gap > 0.05) || alphaLb[1 - r] <= crownLb[r] + 0.5 * gap) {
        n.dispose();
        continue;
      }
      found++;
      const d = crownLb[r] + 0.5 * gap;
      // unsafe region: c_r·y <= d for the row (the property holds iff c_r·y > d everywhere)
      const disjuncts: OutputRow[][] = [[{ c: ROWS[r], d }]];
      const v = verifyProperty(
        n,
        { boxes: [{ lower: lo, upper: hi }], disjuncts },
        { timeoutS: 20, rng: new SeededRng(seed), methods: ['crown', 'alpha-crown'], pgdRestarts: 0, branchAndBound: false, alphaIterations: 30 },
      );
      expect(v.kind).toBe('verified-incomplete');
      expect(v.method).toBe('alpha-crown');
      expect(v.downgraded ?? 0).toBe(0);
      n.dispose();
    }
    expect(found).toBeGreaterThan(0);
  }, 120_000); // at most two verifications of 20 s each, plus the bound calls

  it('ReLU branch and bound from the alpha-CROWN root: decisions hold under sampling and no claim is refused', () => {
    const before = tf.memory().numTensors;
    const kinds: string[] = [];
    for (let seed = 1; seed <= 3; seed++) {
      const n = deepNet(seed, 6, 16, 4);
      const { lo, hi } = boxOf(seed, 6, 0.3);
      const alphaLb = bounds32(n, lo, hi, true);
      // thresholds just above alpha-CROWN's bound of each row: branch and bound has to decide
      const disjuncts: OutputRow[][] = ROWS.map((c, r) => [{ c, d: alphaLb[r] + 0.05 }]);
      const v = verifyProperty(
        n,
        { boxes: [{ lower: lo, upper: hi }], disjuncts },
        { timeoutS: 15, rng: new SeededRng(seed), methods: ['crown', 'alpha-crown'], pgdRestarts: 2, babMode: 'relu', alphaIterations: 30 },
      );
      kinds.push(v.kind);
      expect(v.downgraded ?? 0).toBe(0);
      const rng = new SeededRng(700 + seed);
      const xs = new Float32Array(4000 * 6).map((_, i) => lo[i % 6] + (hi[i % 6] - lo[i % 6]) * rng.next());
      const ys = tf.tidy(() => n.predict(tf.tensor2d(xs, [4000, 6])).dataSync());
      let violated = false;
      for (let t = 0; t < 4000 && !violated; t++) violated = disjuncts.some(([row]) => row.c.reduce((s2, c, i) => s2 + c * ys[t * 3 + i], 0) <= row.d);
      if (v.kind === 'verified-complete' || v.kind === 'verified-incomplete') expect(violated).toBe(false);
      n.dispose();
    }
    expect(kinds.some((k) => k === 'verified-complete' || k === 'falsified')).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000); // three verifications of at most 15 s each, plus sampling
});
