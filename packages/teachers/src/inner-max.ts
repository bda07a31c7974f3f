import * as tf from '@tensorflow/tfjs-core';
import { batchRandomNormal, batchRandomUniform, ConfigError, type InputBox, type SeededRng } from '@certkd/core';

/**
 * The inner maximisation of adversarial training, kept inside this package because plugin
 * packages do not import each other (the full attacks live in @certkd/attacks): signed-gradient
 * ascent on a per-sample objective, projected onto the box, keeping each sample's best iterate.
 */
export interface InnerMaxOptions {
  /** Gradient steps per restart (0: return the start point). */
  steps: number;
  /** Step in units of the per-element box half-width (0.25 = eps/4 on an unclipped box). */
  stepSize: number;
  /** Independent starts; the per-sample best over all of them is returned. */
  restarts: number;
  /** 'uniform': uniform in the box (Madry); 'near-clean': x + 0.001 N(0, 1), clipped (TRADES). */
  start: 'uniform' | 'near-clean';
}

/** Pixel-space L-inf box around x clipped to [0, 1]. */
export function epsBox(x: tf.Tensor, eps: number): InputBox {
  return tf.tidy(() => ({ lower: tf.clipByValue(tf.sub(x, eps), 0, 1), upper: tf.clipByValue(tf.add(x, eps), 0, 1) }));
}

function clip(x: tf.Tensor, box: InputBox): tf.Tensor {
  return tf.minimum(tf.maximum(x, box.lower), box.upper);
}

function rowsWhere(cond: tf.Tensor1D, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const shape = [cond.shape[0], ...a.shape.slice(1).map(() => 1)];
  return tf.where(tf.broadcastTo(tf.reshape(cond, shape), a.shape), a, b);
}

/**
 * Maximise objective(x') [N] over x' in the box from the chosen start. The objective must be
 * per-sample (eval-mode BatchNorm keeps samples independent). The result is a fresh tensor with
 * no gradient history, so a training step's outer tape never walks through the attack.
 */
export function maximizeInBox(
  objective: (x: tf.Tensor) => tf.Tensor1D,
  x: tf.Tensor,
  box: InputBox,
  rng: SeededRng,
  o: InnerMaxOptions,
): tf.Tensor {
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new ConfigError(`steps must be an integer >= 0, got ${o.steps}`, undefined, 'steps');
  if (!Number.isInteger(o.restarts) || o.restarts < 1) throw new ConfigError(`restarts must be an integer >= 1, got ${o.restarts}`, undefined, 'restarts');
  let bestX: tf.Tensor | undefined;
  let bestVal: tf.Tensor1D | undefined;
  const offer = (xi: tf.Tensor, v: tf.Tensor1D) => {
    if (!bestX || !bestVal) {
      bestX = tf.clone(xi);
      bestVal = tf.clone(v);
      return;
    }
    const [px, pv] = [bestX, bestVal];
    [bestX, bestVal] = tf.tidy(() => [rowsWhere(tf.greater(v, pv) as tf.Tensor1D, xi, px), tf.maximum(v, pv) as tf.Tensor1D]);
    px.dispose();
    pv.dispose();
  };
  const half = tf.tidy(() => tf.mul(tf.sub(box.upper, box.lower), 0.5 * o.stepSize));
  try {
    for (let r = 0; r < o.restarts; r++) {
      const seed = rng.nextSeed();
      let xk = tf.tidy(() =>
        o.start === 'uniform'
          ? tf.add(box.lower, tf.mul(batchRandomUniform(x.shape, 0, 1, seed), tf.sub(box.upper, box.lower)))
          : clip(tf.add(x, tf.mul(batchRandomNormal(x.shape, 0, 1, seed), 0.001)), box),
      );
      for (let k = 0; k <= o.steps; k++) {
        let val: tf.Tensor1D | undefined;
        const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => {
          val = tf.keep(objective(xi));
          return tf.sum(val) as tf.Scalar;
        })(xk);
        value.dispose();
        offer(xk, val as tf.Tensor1D);
        (val as tf.Tensor1D).dispose();
        if (k < o.steps) {
          const cur = xk;
          xk = tf.tidy(() => clip(tf.add(cur, tf.mul(half, tf.sign(grad))), box));
          cur.dispose();
        }
        grad.dispose();
      }
      xk.dispose();
    }
    const out = bestX as tf.Tensor;
    return tf.tensor(out.dataSync(), out.shape, 'float32');
  } finally {
    half.dispose();
    bestX?.dispose();
    bestVal?.dispose();
  }
}

/** Per-sample cross-entropy [N] of logits [N, K] and int labels [N]. */
export function crossEntropyPerSample(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, tf.oneHot(tf.cast(y, 'int32'), logits.shape[1])), 1)) as tf.Tensor1D);
}

/** Per-sample KL(p || q) [N] with p = softmax(pLogits), q = softmax(qLogits). */
export function klPerSample(pLogits: tf.Tensor2D, qLogits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(pLogits);
    const logQ = tf.logSoftmax(qLogits);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1) as tf.Tensor1D;
  });
}
