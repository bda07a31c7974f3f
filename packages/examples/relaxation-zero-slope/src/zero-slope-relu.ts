import * as tf from '@tensorflow/tfjs-core';
import { ActivationLines, ActivationRelaxation, LowerUpper, reluPieces } from '@certkd/bounds';

/**
 * ReLU relaxation whose lower line is always y >= 0 for unstable neurons (the upper line is
 * the usual chord). Sound for any input bounds; it offers no alpha parameters, so
 * alpha-CROWN keeps this choice.
 */
export class ZeroSlopeRelu extends ActivationRelaxation {
  readonly name = 'zero-slope';
  readonly layerKind = 'relu' as const;

  apply(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }

  lines(pre: LowerUpper): ActivationLines {
    const { active, upperSlope, upperIntercept } = reluPieces(pre);
    return { lowerSlope: active, lowerIntercept: tf.zerosLike(pre.lower), upperSlope, upperIntercept };
  }
}
