import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  signedGradientAscent,
  type Attack,
  type AttackResult,
  type AttackRunOptions,
  type InputBox,
  type Network,
  type SeededRng,
} from '@certkd/core';
import { attackObjective } from './objective';
import { checkAttackInputs } from './validate';

export type StepSchedule = 'constant' | 'step-decay';

export interface PgdOptions {
  /** Gradient steps per restart (>= 1). */
  steps: number;
  /** Independent random starts; the per-sample worst over all of them is kept. */
  restarts: number;
  /**
   * Step length. 'relative': in units of the per-element box half-width (METHODS 4:
   * x <- clip_box(x + step * halfwidth * sign(grad)); 0.035 is "0.035 eps" on an unclipped
   * box). 'absolute': in pixel units.
   */
  stepSize: number;
  stepMode: 'relative' | 'absolute';
  /** Start uniformly at random in the box (true) or at the clean input. */
  randomStart: boolean;
  /** 'step-decay' multiplies the step by decayFactor at each milestone (fractions of steps). */
  schedule: StepSchedule;
  decayFactor: number;
  decayMilestones: number[];
}

export const DEFAULT_PGD_OPTIONS: PgdOptions = {
  steps: 10,
  restarts: 1,
  stepSize: 0.25,
  stepMode: 'relative',
  randomStart: true,
  schedule: 'constant',
  decayFactor: 0.1,
  decayMilestones: [0.5, 0.75],
};

/** Step multiplier at 0-based step k of n under the schedule. */
export function scheduledStep(o: Pick<PgdOptions, 'stepSize' | 'schedule' | 'decayFactor' | 'decayMilestones'>, k: number, n: number): number {
  if (o.schedule === 'constant') return o.stepSize;
  const passed = o.decayMilestones.filter((m) => k >= Math.round(m * n)).length;
  return o.stepSize * Math.pow(o.decayFactor, passed);
}

/**
 * L-inf PGD on cross-entropy (Madry et al. 2018, METHODS 4): random start in the box,
 * signed-gradient steps projected onto the box, per-sample best iterate (highest loss) over
 * all steps and restarts. Inputs and box in pixel space. The loop is core's
 * signedGradientAscent, shared with the teachers' inner maximisation and the certified losses'
 * training attack.
 */
export class Pgd implements Attack {
  readonly name: string;
  readonly options: PgdOptions;

  constructor(options: Partial<PgdOptions> = {}, name = 'pgd') {
    this.options = { ...DEFAULT_PGD_OPTIONS, ...options };
    this.name = name;
    const o = this.options;
    if (!Number.isInteger(o.steps) || o.steps < 1) throw new ConfigError(`steps must be an integer >= 1, got ${o.steps}`, undefined, `attack '${name}'.steps`);
    if (!Number.isInteger(o.restarts) || o.restarts < 1)
      throw new ConfigError(`restarts must be an integer >= 1, got ${o.restarts}`, undefined, `attack '${name}'.restarts`);
    if (!(o.stepSize > 0)) throw new ConfigError(`stepSize must be > 0, got ${o.stepSize}`, undefined, `attack '${name}'.stepSize`);
  }

  run(net: Network, x: tf.Tensor, y: tf.Tensor1D, box: InputBox, rng: SeededRng, opts?: AttackRunOptions): AttackResult {
    checkAttackInputs(this.name, x, y, box);
    const o = this.options;
    const { x: adv, value } = signedGradientAscent(attackObjective(net, y, opts), x, box, rng, {
      steps: o.steps,
      restarts: o.restarts,
      stepSize: o.stepSize,
      stepMode: o.stepMode,
      stepAt: (k, n) => scheduledStep(o, k, n),
      start: o.randomStart ? 'uniform' : 'clean',
    });
    return { x: adv, loss: value as tf.Tensor1D };
  }
}
