import * as tf from '@tensorflow/tfjs-core';
import { InputBox, SeededRng } from '@certkd/core';
import { boxAround, specMatrix } from '../box';
import { BOUND_METHOD_NAMES, BoundMethodName, createBoundMethod } from '../methods/bound-methods';
import { ActivationRelaxation } from '../relaxations/activation';
import { relaxationSet, builtinRelaxations } from '../relaxations/default-set';
import type { BoundMethod, Bounds, Relaxation, RelaxationSet } from '../types';
import { CONFORMANCE_SPECS, ConformanceNetwork, buildConformanceNetwork } from './networks';

/** What the conformance suite checks, over which relaxations and methods. */
export interface ConformanceOptions {
  /** Relaxations replacing the built-ins for their layer kinds (e.g. a third-party ReLU relaxation). */
  relaxations?: readonly Relaxation[];
  /** Bound methods to check (default: all four built-ins). */
  methods?: readonly BoundMethodName[];
  /** Networks to check (default: every conformance network). */
  networks?: readonly string[];
  seed?: number;
  /** Boxes per network (batch size). */
  batch?: number;
  /** Random points per box (plus as many box vertices). */
  samples?: number;
  /** PGD steps towards each checked direction. */
  pgdSteps?: number;
  /** Allowed violation: atol + rtol * |bound|. */
  atol?: number;
  rtol?: number;
  /** alpha-CROWN steps during the suite. */
  alphaIterations?: number;
}

export interface ConformanceViolation {
  check: 'soundness' | 'tightness' | 'leak' | 'error' | 'lines';
  network: string;
  method: string;
  detail: string;
}

interface Resolved {
  set: RelaxationSet;
  methods: BoundMethod[];
  seed: number;
  batch: number;
  samples: number;
  pgdSteps: number;
  atol: number;
  rtol: number;
}

function resolve(o: ConformanceOptions): Resolved {
  const set = relaxationSet([...builtinRelaxations(), ...(o.relaxations ?? [])]);
  const names = o.methods ?? BOUND_METHOD_NAMES;
  return {
    set,
    methods: names.map((n) => createBoundMethod(n, set, { iterations: o.alphaIterations ?? 3, lr: 0.2 })),
    seed: o.seed ?? 7,
    batch: o.batch ?? 2,
    samples: o.samples ?? 48,
    pgdSteps: o.pgdSteps ?? 8,
    atol: o.atol ?? 1e-4,
    rtol: o.rtol ?? 1e-4,
  };
}

/** Names of the networks the suite runs on. */
export function conformanceNetworkNames(): string[] {
  return CONFORMANCE_SPECS.map((s) => s.name);
}

/** Activation of every layer boundary for inputs x ([B, ...input]); index e = input of layer e. Call inside a tidy. */
function activations(c: ConformanceNetwork, x: tf.Tensor): tf.Tensor[] {
  const out = [x];
  let h = x;
  for (let i = 0; i < c.net.layers.length; i++) {
    h = c.net.applyLayer(i, h, { mode: c.mode, bnStats: c.bnStats });
    out.push(h);
  }
  return out;
}

/** Inputs inside the box: uniform samples, random vertices; [R, N, ...input] flattened to [R*N, ...]. */
function samplePoints(box: InputBox, count: number, rng: SeededRng): tf.Tensor {
  return tf.tidy(() => {
    const shape = [count, ...box.lower.shape];
    const lo = tf.expandDims(box.lower, 0);
    const width = tf.expandDims(tf.sub(box.upper, box.lower), 0);
    const uni = tf.randomUniform(shape, 0, 1, 'float32', rng.nextSeed());
    const vert = tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', rng.nextSeed()), 0.5), 'float32');
    const pts = tf.concat([tf.add(lo, tf.mul(width, uni)), tf.add(lo, tf.mul(width, vert))], 0);
    return tf.reshape(pts, [2 * count * box.lower.shape[0], ...box.lower.shape.slice(1)]);
  });
}

/**
 * PGD-style search inside the box: for each direction w ([R, N, D] over the flattened
 * quantity q(x)), signed-gradient ascent on sum(w * q(x)) from random starts, projected to the
 * box. Returns the final points [R*N, ...input].
 */
function pgdPoints(box: InputBox, dirs: tf.Tensor, q: (x: tf.Tensor) => tf.Tensor, steps: number, rng: SeededRng): tf.Tensor {
  return tf.tidy(() => {
    const r = dirs.shape[0];
    const n = box.lower.shape[0];
    const tileTo = (t: tf.Tensor) => tf.reshape(tf.broadcastTo(tf.expandDims(t, 0), [r, ...t.shape]), [r * n, ...t.shape.slice(1)]);
    const lo = tileTo(box.lower);
    const hi = tileTo(box.upper);
    const w = tf.reshape(dirs, [r * n, -1]);
    let x = tf.add(lo, tf.mul(tf.sub(hi, lo), tf.randomUniform(lo.shape, 0, 1, 'float32', rng.nextSeed())));
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.reshape(q(xx), [r * n, -1]), w)));
    for (let s = 0; s < steps; s++) {
      const step = tf.mul(tf.sub(hi, lo), 0.5 * Math.pow(0.6, s));
      x = tf.minimum(hi, tf.maximum(lo, tf.add(x, tf.mul(step, tf.sign(g(x))))));
    }
    return x;
  });
}

/** Directions for one bounded quantity of width d: +-e_j for a few j, and random sign vectors. */
function directions(n: number, d: number, rng: SeededRng): tf.Tensor {
  const picks = Math.min(d, 4);
  const rows: number[][] = [];
  const chosen = new Set<number>();
  while (chosen.size < picks) chosen.add(rng.int(d));
  for (const j of chosen) {
    for (const sgn of [1, -1]) rows.push(Array.from({ length: d }, (_, k) => (k === j ? sgn : 0)));
  }
  for (let t = 0; t < 2; t++) rows.push(Array.from({ length: d }, () => (rng.next() < 0.5 ? -1 : 1)));
  const r = rows.length;
  return tf.tidy(() => tf.broadcastTo(tf.expandDims(tf.tensor2d(rows, [r, d]), 1), [r, n, d]));
}

/** Largest violation of lower <= v <= upper over points v [P*N, D] (P points per box), after tolerance. */
function worstViolation(b: Bounds, values: tf.Tensor, n: number, atol: number, rtol: number): { amount: number; where: string } {
  return tf.tidy(() => {
    const lo = tf.reshape(b.lower, [1, n, -1]);
    const hi = tf.reshape(b.upper, [1, n, -1]);
    const v = tf.reshape(values, [-1, n, lo.shape[2] as number]);
    const below = tf.sub(tf.sub(lo, v), tf.add(atol, tf.mul(rtol, tf.abs(lo))));
    const above = tf.sub(tf.sub(v, hi), tf.add(atol, tf.mul(rtol, tf.abs(hi))));
    const worst = tf.maximum(tf.max(below), tf.max(above)).dataSync()[0];
    const nan = tf.any(tf.logicalOr(tf.isNaN(lo), tf.isNaN(hi))).dataSync()[0];
    return { amount: nan ? Infinity : worst, where: nan ? 'NaN in bounds' : '' };
  });
}

/** Every check of the suite for one network; returns the violations (empty when it conforms). */
export function checkNetwork(name: string, options: ConformanceOptions = {}): ConformanceViolation[] {
  const o = resolve(options);
  const out: ConformanceViolation[] = [];
  const rng = new SeededRng(o.seed * 1009 + name.length);
  const c = buildConformanceNetwork(name, rng.nextUint32());
  const L = c.net.layers.length;
  const n = o.batch;
  const x = tf.randomUniform([n, ...c.net.inputShape], 0, 1, 'float32', rng.nextSeed());
  const box = boxAround(x, 0.08 + 0.1 * rng.next());
  const K = c.net.widthAt(L);
  const y = tf.tensor1d(
    Array.from({ length: n }, () => rng.int(K)),
    'int32',
  );
  const spec = specMatrix(y, K);
  const base = { mode: c.mode, bnStats: c.bnStats };
  try {
    // Points that do not depend on the method: random samples, and PGD points per bounded quantity.
    const sampled = samplePoints(box, o.samples, rng);
    const sampledActs = tf.tidy(() => activations(c, sampled));
    const pgdActs: tf.Tensor[] = [];
    for (let e = 1; e <= L; e++) {
      pgdActs.push(
        tf.tidy(() => {
          const d = c.net.widthAt(e);
          const pts = pgdPoints(box, directions(n, d, rng), (xx) => activations(c, xx)[e], o.pgdSteps, rng);
          return activations(c, pts)[e];
        }),
      );
    }
    const specOf = (logits: tf.Tensor) =>
      tf.tidy(() => {
        const rows = tf.reshape(logits, [-1, n, K]);
        return tf.reshape(tf.sum(tf.mul(tf.expandDims(rows, 2), tf.expandDims(spec, 0)), 3), [-1, spec.shape[1]]);
      });
    const specPgd = tf.tidy(() => {
      const m = spec.shape[1];
      const dirs = tf.concat([tf.eye(m), tf.neg(tf.eye(m))], 0);
      const w = tf.broadcastTo(tf.expandDims(dirs, 1), [2 * m, n, m]);
      const q = (xx: tf.Tensor) => {
        const r = (xx.shape[0] as number) / n;
        const logits = tf.reshape(c.net.forward(xx, base).output, [r, n, K]);
        return tf.sum(tf.mul(tf.expandDims(logits, 2), tf.expandDims(spec, 0)), 3);
      };
      const pts = pgdPoints(box, w, q, o.pgdSteps, rng);
      return specOf(c.net.forward(pts, base).output);
    });
    const specSampled = specOf(sampledActs[L]);

    const specBounds = new Map<string, Bounds>();
    for (const m of o.methods) {
      const fail = (check: ConformanceViolation['check'], detail: string) => out.push({ check, network: name, method: m.name, detail });
      try {
        for (let e = 1; e <= L; e++) {
          const startCount = tf.memory().numTensors;
          const b = m.compute(c.net, box, { ...base, end: e });
          const s1 = worstViolation(b, sampledActs[e], n, o.atol, o.rtol);
          const s2 = worstViolation(b, pgdActs[e - 1], n, o.atol, o.rtol);
          tf.dispose([b.lower, b.upper]);
          const leaked = tf.memory().numTensors - startCount;
          if (leaked !== 0) fail('leak', `${leaked} tensors left after bounding layer boundary ${e}`);
          for (const [s, kind] of [
            [s1, 'sampled'],
            [s2, 'PGD'],
          ] as const) {
            if (s.amount > 0) {
              fail(
                'soundness',
                `${kind} point outside the bounds at layer boundary ${e} (${c.net.layers[e - 1].kind}) by ${s.amount.toExponential(3)} ${s.where}`.trim(),
              );
            }
          }
        }
        const startCount = tf.memory().numTensors;
        const sb = m.compute(c.net, box, { ...base, spec });
        if (tf.memory().numTensors - startCount !== 2) fail('leak', `${tf.memory().numTensors - startCount - 2} tensors left after bounding the spec`);
        for (const [vals, kind] of [
          [specSampled, 'sampled'],
          [specPgd, 'PGD'],
        ] as const) {
          const s = worstViolation(sb, vals, n, o.atol, o.rtol);
          if (s.amount > 0) fail('soundness', `${kind} point outside the spec bounds by ${s.amount.toExponential(3)} ${s.where}`.trim());
        }
        specBounds.set(m.name, sb);
      } catch (err) {
        fail('error', err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
    }
    // Tightness order on the spec bounds: ibp <= crown <= alpha-crown.
    for (const [looser, tighter] of [
      ['ibp', 'crown'],
      ['crown', 'alpha-crown'],
    ] as const) {
      const a = specBounds.get(looser);
      const b = specBounds.get(tighter);
      if (!a || !b) continue;
      const gap = tf.tidy(
        () =>
          tf
            .maximum(
              tf.max(tf.sub(tf.sub(a.lower, b.lower), tf.add(o.atol, tf.mul(o.rtol, tf.abs(a.lower))))),
              tf.max(tf.sub(tf.sub(b.upper, a.upper), tf.add(o.atol, tf.mul(o.rtol, tf.abs(a.upper))))),
            )
            .dataSync()[0],
      );
      if (gap > 0) out.push({ check: 'tightness', network: name, method: tighter, detail: `spec bounds looser than ${looser} by ${gap.toExponential(3)}` });
    }
    specBounds.forEach((b) => tf.dispose([b.lower, b.upper]));
    tf.dispose([sampled, ...sampledActs, ...pgdActs, specPgd, specSampled]);
  } finally {
    tf.dispose([x, box.lower, box.upper, y, spec]);
    c.dispose();
  }
  return out;
}

/**
 * Direct check of the lines of every activation relaxation in the set: for random [l, u]
 * (stable and unstable) and x in [l, u], lower line <= f(x) <= upper line, for CROWN's
 * parameters and for random alpha in [0, 1].
 */
export function checkActivationLines(options: ConformanceOptions = {}, trials = 400): ConformanceViolation[] {
  const o = resolve(options);
  const out: ConformanceViolation[] = [];
  const rng = new SeededRng(o.seed);
  for (const rel of o.set.values()) {
    if (!(rel instanceof ActivationRelaxation)) continue;
    const worst = tf.tidy(() => {
      const a = Array.from({ length: trials }, () => rng.normal() * 2);
      const b = Array.from({ length: trials }, () => rng.normal() * 2);
      const l = tf.tensor2d(
        a.map((v, i) => Math.min(v, b[i])),
        [1, trials],
      );
      const u = tf.tensor2d(
        a.map((v, i) => Math.max(v, b[i]) + 1e-3),
        [1, trials],
      );
      const t = tf.tensor2d(
        Array.from({ length: trials }, () => rng.next()),
        [1, trials],
      );
      const xs = tf.add(l, tf.mul(t, tf.sub(u, l)));
      const pre = { lower: l, upper: u };
      const variants: (tf.Tensor | undefined)[] = [undefined];
      if ((rel as Relaxation).initAlpha) variants.push(tf.reshape(tf.tensor1d(Array.from({ length: trials }, () => rng.next())), [1, 1, trials]));
      let w = -Infinity;
      for (const alpha of variants) {
        const lines = rel.lines(pre, alpha);
        const fx = rel.apply(xs);
        const flat = (v: tf.Tensor) => tf.reshape(v, [-1, trials]);
        const lo = tf.add(tf.mul(flat(lines.lowerSlope), flat(xs)), flat(lines.lowerIntercept));
        const hi = tf.add(tf.mul(flat(lines.upperSlope), flat(xs)), flat(lines.upperIntercept));
        const v = tf.maximum(tf.max(tf.sub(lo, flat(fx))), tf.max(tf.sub(flat(fx), hi))).dataSync()[0];
        w = Math.max(w, v);
      }
      return w;
    });
    if (worst > o.atol) {
      out.push({ check: 'lines', network: '-', method: rel.name, detail: `activation outside its lines by ${worst.toExponential(3)}` });
    }
  }
  return out;
}

/** All checks: activation lines and every network. */
export function checkConformance(options: ConformanceOptions = {}): ConformanceViolation[] {
  const names = options.networks ?? conformanceNetworkNames();
  return [...checkActivationLines(options), ...names.flatMap((nm) => checkNetwork(nm, options))];
}
