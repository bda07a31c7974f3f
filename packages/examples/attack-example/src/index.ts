import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { definePlugin, pluginRegistry, type Attack, type AttackResult, type DependencyContainer, type InputBox, type Network } from '@certkd/core';

/** Cross-entropy of each sample, [N] (logits [N, K], integer labels [N]). */
function crossEntropy(logits: tf.Tensor, y: tf.Tensor1D): tf.Tensor1D {
  const k = logits.shape[1]!;
  return tf.neg(tf.sum(tf.mul(tf.oneHot(tf.cast(y, 'int32'), k), tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
}

/**
 * 'vertex': one gradient evaluation of the cross-entropy, then the box vertex in the direction of
 * its sign (upper bound where the gradient is positive, else lower). Deterministic.
 */
export class VertexAttack implements Attack {
  readonly name = 'vertex';

  run(net: Network, x: tf.Tensor, y: tf.Tensor1D, box: InputBox): AttackResult {
    return tf.tidy(() => {
      const g = tf.grad((v: tf.Tensor) => tf.sum(crossEntropy(net.predict(v), y)))(x);
      const adv = tf.where(tf.greater(g, 0), box.upper, box.lower);
      return { x: adv, loss: crossEntropy(net.predict(adv), y) };
    });
  }
}

/** Composition root: registers the 'vertex' attack. */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(
    definePlugin({
      kind: 'attack',
      name: 'vertex',
      description: 'one signed-gradient step of the cross-entropy to the box vertex (example attack plugin)',
      options: z.object({}).strict(),
      create: (): Attack => new VertexAttack(),
    }),
    '@certkd/example-attack',
  );
}
