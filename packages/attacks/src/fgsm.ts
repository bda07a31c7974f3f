import * as tf from '@tensorflow/tfjs-core';
import { clipToBox, detach, halfWidth, type Attack, type AttackResult, type AttackRunOptions, type InputBox, type Network, type SeededRng } from '@certkd/core';
import { lossAndInputGrad, lossAt } from './objective';
import { checkAttackInputs } from './validate';

export interface FgsmOptions {
  /** Step in units of the box half-width; 2 (the default) always reaches the signed vertex. */
  stepSize: number;
}

/**
 * FGSM (Goodfellow et al. 2015) in box form: one signed-gradient step from the clean input,
 * x' = clip_box(x + stepSize * halfwidth * sign(grad)). Deterministic; `rng` is unused.
 */
export class Fgsm implements Attack {
  readonly name = 'fgsm';
  constructor(readonly options: FgsmOptions = { stepSize: 2 }) {}

  run(net: Network, x: tf.Tensor, y: tf.Tensor1D, box: InputBox, _rng: SeededRng, opts?: AttackRunOptions): AttackResult {
    checkAttackInputs(this.name, x, y, box);
    const start = clipToBox(x, box);
    const { loss, grad } = lossAndInputGrad(net, start, y, opts);
    loss.dispose();
    const adv = tf.tidy(() => clipToBox(tf.add(start, tf.mul(tf.mul(halfWidth(box), this.options.stepSize), tf.sign(grad))), box));
    start.dispose();
    grad.dispose();
    const advLoss = lossAt(net, adv, y, opts);
    const result = { x: detach(adv), loss: detach(advLoss) };
    adv.dispose();
    advLoss.dispose();
    return result;
  }
}
