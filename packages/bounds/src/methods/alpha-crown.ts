import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, InputBox, Network } from '@certkd/core';
import type { BoundOptions, Bounds } from '../types';
import { backwardLower, boundRows, boxInterval, prepare, rowsToBounds, tidyBounds } from './engine';
import { crownState } from './crown';

export interface AlphaCrownOptions {
  /** Projected gradient steps (default 20). */
  iterations?: number;
  /** Adam step size on the slopes (default 0.1). */
  lr?: number;
}

/**
 * alpha-CROWN (METHODS 3): the lower-line parameters of every relaxation that offers them
 * (ReLU: the lower slope of unstable neurons) are optimised separately for each output row
 * by projected gradient ascent (Adam) on the bound, starting from CROWN's choice; the best
 * bound seen per row is kept, so it is never looser than CROWN. Intermediate bounds are
 * CROWN's (not re-optimised).
 */
export function alphaCrown(net: Network, box: InputBox, opts?: BoundOptions & AlphaCrownOptions): Bounds {
  const iterations = opts?.iterations ?? 20;
  const lr = opts?.lr ?? 0.1;
  if (!Number.isInteger(iterations) || iterations < 0) throw new ConfigError(`iterations must be an integer >= 0, got ${iterations}`, undefined, 'iterations');
  if (!(lr > 0) || !Number.isFinite(lr)) throw new ConfigError(`lr must be a finite number > 0, got ${lr}`, undefined, 'lr');
  const p = prepare(net, box, opts, 'alpha-crown');
  return tidyBounds(() => {
    const base = boxInterval(box);
    const state = crownState(p, base);
    const A0 = boundRows(p);
    const rowsN = (A0.shape as number[])[1];
    // One free tensor per relaxation that offers parameters: [N, R, ...input shape].
    const layers: number[] = [];
    let alphas: tf.Tensor[] = [];
    for (let i = 0; i < p.end; i++) {
      const rel = p.rels[i];
      const lu = state.pre[i];
      if (!rel.initAlpha || !lu) continue;
      const init = rel.initAlpha(p.contexts[i], lu);
      if (!init) continue;
      layers.push(i);
      alphas.push(tf.broadcastTo(tf.expandDims(tf.clipByValue(init, 0, 1), 1), [p.n, rowsN, ...p.net.shapes[i]]));
    }
    let best = state.rows;
    if (layers.length === 0 || iterations === 0) return rowsToBounds(p, best);
    const byLayer = (as: tf.Tensor[]) => {
      const out: (tf.Tensor | undefined)[] = [];
      layers.forEach((li, k) => (out[li] = as[k]));
      return out;
    };
    let m = alphas.map((a) => tf.zerosLike(a));
    let v = alphas.map((a) => tf.zerosLike(a));
    const b1 = 0.9;
    const b2 = 0.999;
    for (let t = 0; t <= iterations; t++) {
      let rows: tf.Tensor | undefined;
      const { grads } = tf.valueAndGrads((...as: tf.Tensor[]) => {
        const r = backwardLower(p, A0, p.end, 0, base, state.pre, byLayer(as));
        rows = tf.keep(r);
        return tf.sum(r) as tf.Scalar;
      })(alphas);
      const prevBest = best;
      best = tf.maximum(best, rows as tf.Tensor);
      prevBest.dispose();
      (rows as tf.Tensor).dispose();
      if (t === iterations) {
        grads.forEach((g) => g.dispose());
        break;
      }
      const next = tf.tidy(() => {
        const nm = m.map((mm, k) => tf.add(tf.mul(mm, b1), tf.mul(grads[k], 1 - b1)));
        const nv = v.map((vv, k) => tf.add(tf.mul(vv, b2), tf.mul(tf.square(grads[k]), 1 - b2)));
        const c1 = 1 - Math.pow(b1, t + 1);
        const c2 = 1 - Math.pow(b2, t + 1);
        const na = alphas.map((a, k) =>
          tf.clipByValue(tf.add(a, tf.mul(lr, tf.div(tf.div(nm[k], c1), tf.add(tf.sqrt(tf.div(nv[k], c2)), 1e-8)))), 0, 1),
        );
        return { nm, nv, na };
      });
      [...grads, ...m, ...v, ...alphas].forEach((x) => x.dispose());
      m = next.nm;
      v = next.nv;
      alphas = next.na;
    }
    return rowsToBounds(p, best);
  });
}
