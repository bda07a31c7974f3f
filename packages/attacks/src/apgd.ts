import * as tf from '@tensorflow/tfjs-core';
import {
  BestTracker,
  ConfigError,
  clipToBox,
  detach,
  halfWidth,
  selectRows,
  uniformInBox,
  type Attack,
  type AttackResult,
  type AttackRunOptions,
  type InputBox,
  type Network,
  type SeededRng,
} from '@certkd/core';
import { lossAndInputGrad } from './objective';
import { checkAttackInputs } from './validate';

export interface ApgdOptions {
  /** Iterations N_iter (gradient steps) per restart. */
  steps: number;
  restarts: number;
  /** Momentum weight alpha of the update (0.75 in the paper). */
  momentum: number;
  /** Oscillation threshold rho of condition 1 (0.75 in the paper). */
  rho: number;
  /** Initial step in units of the box half-width (2, i.e. 2 eps on an unclipped box). */
  initialStep: number;
}

export const DEFAULT_APGD_OPTIONS: ApgdOptions = { steps: 100, restarts: 1, momentum: 0.75, rho: 0.75, initialStep: 2 };

/**
 * Checkpoint iterations w_j of APGD: p_0 = 0, p_1 = 0.22,
 * p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), w_j = ceil(p_j N), for p_j <= 1.
 */
export function apgdCheckpoints(n: number): number[] {
  const p = [0, 0.22];
  for (;;) {
    const j = p.length - 1;
    const next = p[j] + Math.max(p[j] - p[j - 1] - 0.03, 0.06);
    if (next > 1) break;
    p.push(next);
  }
  // Round away float noise first (0.22 + 0.19 + 0.16 is not exactly 0.57).
  const w = p.map((v) => Math.ceil(Math.round(v * n * 1e6) / 1e6));
  return [...new Set(w)].filter((v) => v <= n);
}

/**
 * APGD-CE (Croce and Hein 2020, the first attack of AutoAttack): L-inf steps with momentum,
 * a per-sample step size that starts at 2 half-widths and halves at checkpoints when
 * (1) fewer than rho of the steps since the last checkpoint increased the loss, or
 * (2) neither the step size nor the best loss changed since the last checkpoint; on halving,
 * the iterate restarts from the best point. Returns the per-sample best iterate.
 */
export class ApgdCe implements Attack {
  readonly name: string;
  readonly options: ApgdOptions;

  constructor(options: Partial<ApgdOptions> = {}, name = 'apgd-ce') {
    this.options = { ...DEFAULT_APGD_OPTIONS, ...options };
    this.name = name;
    const o = this.options;
    const where = `attack '${name}'`;
    if (!Number.isInteger(o.steps) || o.steps < 2) throw new ConfigError(`steps must be an integer >= 2, got ${o.steps}`, undefined, `${where}.steps`);
    if (!Number.isInteger(o.restarts) || o.restarts < 1)
      throw new ConfigError(`restarts must be an integer >= 1, got ${o.restarts}`, undefined, `${where}.restarts`);
    if (!(o.momentum >= 0 && o.momentum <= 1)) throw new ConfigError(`momentum must be in [0, 1], got ${o.momentum}`, undefined, `${where}.momentum`);
    if (!(o.rho > 0 && o.rho <= 1)) throw new ConfigError(`rho must be in (0, 1], got ${o.rho}`, undefined, `${where}.rho`);
    if (!(o.initialStep > 0)) throw new ConfigError(`initialStep must be > 0, got ${o.initialStep}`, undefined, `${where}.initialStep`);
  }

  run(net: Network, x: tf.Tensor, y: tf.Tensor1D, box: InputBox, rng: SeededRng, opts?: AttackRunOptions): AttackResult {
    checkAttackInputs(this.name, x, y, box);
    const half = halfWidth(box);
    const overall = new BestTracker();
    try {
      for (let r = 0; r < this.options.restarts; r++) {
        const { x: bx, loss: bl } = this.once(net, y, box, half, rng, opts);
        overall.offer(bx, bl);
        bx.dispose();
        bl.dispose();
      }
      return { x: detach(overall.x as tf.Tensor), loss: detach(overall.value as tf.Tensor1D) };
    } finally {
      overall.dispose();
      half.dispose();
    }
  }

  /** One run from a uniform random start; returns the best iterate and its loss. */
  private once(net: Network, y: tf.Tensor1D, box: InputBox, half: tf.Tensor, rng: SeededRng, opts?: AttackRunOptions): { x: tf.Tensor; loss: tf.Tensor1D } {
    const { steps: n, momentum: alpha, rho, initialStep } = this.options;
    const batch = y.shape[0];
    const checkpoints = new Set(apgdCheckpoints(n).filter((w) => w > 0));
    const rowScale = (eta: tf.Tensor1D) => tf.reshape(eta, [batch, ...half.shape.slice(1).map(() => 1)]);

    // Per-sample state; every tensor below is owned here and replaced via `set`.
    const s: Record<string, tf.Tensor> = {};
    const set = (k: string, t: tf.Tensor) => {
      if (s[k] && s[k] !== t) s[k].dispose();
      s[k] = t;
    };
    try {
      set('prev', uniformInBox(box, rng.nextSeed()));
      let lg = lossAndInputGrad(net, s.prev, y, opts);
      set('bestX', tf.clone(s.prev));
      set('bestLoss', lg.loss);
      set('bestGrad', tf.clone(lg.grad));
      set('eta', tf.fill([batch], initialStep));
      // x^(1) = P(x^(0) + eta sign(grad)), no momentum on the first step.
      set(
        'cur',
        tf.tidy(() => clipToBox(tf.add(s.prev, tf.mul(tf.mul(half, rowScale(s.eta as tf.Tensor1D)), tf.sign(lg.grad))), box)),
      );
      lg.grad.dispose();
      set('prevLoss', tf.clone(s.bestLoss));
      lg = lossAndInputGrad(net, s.cur, y, opts);
      set('curLoss', lg.loss);
      set('curGrad', lg.grad);
      set(
        'increases',
        tf.tidy(() => tf.cast(tf.greater(s.curLoss, s.prevLoss), 'float32')),
      );
      this.updateBest(s, set);
      set('etaAtCheck', tf.clone(s.eta));
      set('bestAtCheck', tf.clone(s.bestLoss));
      let lastCheck = 0;

      for (let k = 1; k < n; k++) {
        // z = P(x_k + eta sign(g_k)); x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))
        const next = tf.tidy(() => {
          const z = clipToBox(tf.add(s.cur, tf.mul(tf.mul(half, rowScale(s.eta as tf.Tensor1D)), tf.sign(s.curGrad))), box);
          const moved = tf.add(tf.add(s.cur, tf.mul(tf.sub(z, s.cur), alpha)), tf.mul(tf.sub(s.cur, s.prev), 1 - alpha));
          return clipToBox(moved, box);
        });
        lg = lossAndInputGrad(net, next, y, opts);
        set(
          'increases',
          tf.tidy(() => tf.add(s.increases, tf.cast(tf.greater(lg.loss, s.curLoss), 'float32'))),
        );
        set('prev', s.cur);
        s.cur = next;
        set('curLoss', lg.loss);
        set('curGrad', lg.grad);
        this.updateBest(s, set);

        const done = k + 1; // iterations completed
        if (checkpoints.has(done)) {
          const window = done - lastCheck;
          const reduce = tf.tidy(() => {
            const oscillating = tf.less(s.increases, rho * window);
            const stalled = tf.logicalAnd(tf.equal(s.etaAtCheck, s.eta), tf.equal(s.bestAtCheck, s.bestLoss));
            return tf.logicalOr(oscillating, stalled) as tf.Tensor1D;
          });
          set(
            'eta',
            tf.tidy(() => tf.where(reduce, tf.div(s.eta, 2), s.eta)),
          );
          // Restart the halved samples from their best point (with no momentum carried over).
          set('cur', selectRows(reduce, s.bestX, s.cur));
          set('prev', tf.clone(s.cur));
          set(
            'curLoss',
            tf.tidy(() => tf.where(reduce, s.bestLoss, s.curLoss)),
          );
          set('curGrad', selectRows(reduce, s.bestGrad, s.curGrad));
          reduce.dispose();
          set('increases', tf.zerosLike(s.increases));
          set('etaAtCheck', tf.clone(s.eta));
          set('bestAtCheck', tf.clone(s.bestLoss));
          lastCheck = done;
        }
      }
      const out = { x: s.bestX, loss: s.bestLoss as tf.Tensor1D };
      delete s.bestX;
      delete s.bestLoss;
      return out;
    } finally {
      for (const t of Object.values(s)) t.dispose();
    }
  }

  /** Fold the current iterate into the per-sample best (point, loss, gradient). */
  private updateBest(s: Record<string, tf.Tensor>, set: (k: string, t: tf.Tensor) => void): void {
    const better = tf.greater(s.curLoss, s.bestLoss) as tf.Tensor1D;
    set('bestX', selectRows(better, s.cur, s.bestX));
    set('bestGrad', selectRows(better, s.curGrad, s.bestGrad));
    set('bestLoss', tf.maximum(s.curLoss, s.bestLoss));
    better.dispose();
  }
}
