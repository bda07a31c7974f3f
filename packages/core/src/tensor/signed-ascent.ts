import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import type { InputBox } from '../contracts/attack';
import type { SeededRng } from '../rng/seeded-rng';
import { batchRandomNormal } from '../parallel/collective';
import { clipToBox, halfWidth, uniformInBox } from './box';
import { detach } from './detach';
import { BestTracker } from './rows';

/**
 * Where each restart starts: 'uniform' in the box (one seed per restart; Madry et al.),
 * 'clean' at x projected onto the box (no seed), 'near-clean' at x + 0.001 N(0, 1) projected
 * onto the box (one seed per restart; TRADES).
 */
export type AscentStart = 'uniform' | 'clean' | 'near-clean';

export interface SignedAscentOptions {
  /** Gradient steps per restart (>= 0; 0 returns the start point). */
  steps: number;
  /** Independent starts (default 1); the per-sample best over all of them is kept. */
  restarts?: number;
  /**
   * Step length: in units of the per-element box half-width ('relative', the default;
   * x <- clip_box(x + stepSize * halfwidth * sign(grad)), so 0.25 is eps/4 on an unclipped
   * box) or in input units ('absolute').
   */
  stepSize: number;
  stepMode?: 'relative' | 'absolute';
  /** The step length at 0-based step k of n (default: stepSize at every step), e.g. a decay schedule. */
  stepAt?: (k: number, n: number) => number;
  start: AscentStart;
  /**
   * Whether the start point is a candidate for the best point (default true). With false only
   * the points reached by a step count (the certified losses' training attack), and one step
   * returns the point it reaches.
   */
  includeStart?: boolean;
  /**
   * Whether the caller wants the best point's value (default true). With false, a final
   * iterate that is the only candidate is returned without evaluating the objective there.
   */
  needValue?: boolean;
}

export interface AscentResult {
  /** The per-sample best point, detached from every gradient tape. */
  x: tf.Tensor;
  /** The objective there [N], detached; absent only when needValue is false and it was not computed. */
  value?: tf.Tensor1D;
}

/**
 * L-inf projected signed-gradient ascent (PGD, Madry et al. 2018; METHODS 4) on a per-sample
 * objective [N] over the box, keeping each sample's best point over every step and restart
 * (ties keep the earlier one). The gradient is taken w.r.t. the input only (tf.valueAndGrad of
 * the summed objective), so the objective must keep samples independent (BatchNorm in eval
 * mode or with fixed statistics). This one loop serves the attacks' PGD, the teachers' inner
 * maximisation and the certified losses' training attack.
 */
export function signedGradientAscent(
  objective: (x: tf.Tensor) => tf.Tensor1D,
  x: tf.Tensor,
  box: InputBox,
  rng: SeededRng,
  o: SignedAscentOptions,
): AscentResult {
  const restarts = o.restarts ?? 1;
  const includeStart = o.includeStart ?? true;
  if (!Number.isInteger(o.steps) || o.steps < (includeStart ? 0 : 1)) {
    throw new ConfigError(`steps must be an integer >= ${includeStart ? 0 : 1}, got ${o.steps}`, undefined, 'steps');
  }
  if (!Number.isInteger(restarts) || restarts < 1) throw new ConfigError(`restarts must be an integer >= 1, got ${restarts}`, undefined, 'restarts');
  if (!(o.stepSize > 0) || !Number.isFinite(o.stepSize))
    throw new ConfigError(`stepSize must be a finite number > 0, got ${o.stepSize}`, undefined, 'stepSize');
  const half = (o.stepMode ?? 'relative') === 'relative' ? halfWidth(box) : undefined;
  const best = new BestTracker();
  let only: tf.Tensor | undefined;
  try {
    for (let r = 0; r < restarts; r++) {
      let xk = startPoint(x, box, rng, o.start);
      for (let k = 0; k < o.steps; k++) {
        const { value, grad } = valueAndInputGrad(objective, xk);
        if (k > 0 || includeStart) best.offer(xk, value);
        const step = o.stepAt ? o.stepAt(k, o.steps) : o.stepSize;
        const cur = xk;
        xk = tf.tidy(() => {
          const delta = half ? tf.mul(half, step) : tf.scalar(step);
          return clipToBox(tf.add(cur, tf.mul(delta, tf.sign(grad))), box);
        });
        value.dispose();
        grad.dispose();
        cur.dispose();
      }
      if (best.empty && r === restarts - 1 && o.needValue === false) {
        only = xk; // the one candidate: no comparison needed
        continue;
      }
      const last = tf.tidy(() => objective(xk));
      best.offer(xk, last);
      last.dispose();
      xk.dispose();
    }
    if (only) return { x: detach(only) };
    return { x: detach(best.x as tf.Tensor), value: detach(best.value as tf.Tensor1D) };
  } finally {
    only?.dispose();
    best.dispose();
    half?.dispose();
  }
}

function startPoint(x: tf.Tensor, box: InputBox, rng: SeededRng, start: AscentStart): tf.Tensor {
  if (start === 'uniform') return uniformInBox(box, rng.nextSeed());
  if (start === 'clean') return clipToBox(x, box);
  const seed = rng.nextSeed();
  return tf.tidy(() => clipToBox(tf.add(x, tf.mul(batchRandomNormal(x.shape, 0, 1, seed), 0.001)), box));
}

/** The objective at x [N] and the gradient of its sum w.r.t. x (never the weights). */
export function valueAndInputGrad(objective: (x: tf.Tensor) => tf.Tensor1D, x: tf.Tensor): { value: tf.Tensor1D; grad: tf.Tensor } {
  let perSample: tf.Tensor1D | undefined;
  const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => {
    perSample = tf.keep(objective(xi));
    return tf.sum(perSample) as tf.Scalar;
  })(x);
  value.dispose();
  return { value: perSample as tf.Tensor1D, grad };
}
