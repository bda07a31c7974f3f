import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, disposeBox, linfBox, type Attack, type AttackRunOptions, type Network, type SeededRng } from '@certkd/core';
import { ApgdCe, type ApgdOptions } from './apgd';
import { Pgd, type PgdOptions } from './pgd';

/** Evaluation PGD of METHODS 4: 40 steps of 0.035 eps (expressive-losses), one restart. */
export const EVAL_PGD_OPTIONS: Readonly<Partial<PgdOptions>> = Object.freeze({
  steps: 40,
  stepSize: 0.035,
  stepMode: 'relative',
  restarts: 1,
  randomStart: true,
  schedule: 'constant',
});
/** Evaluation APGD-CE: AutoAttack's first component with its standard 100 iterations. */
export const EVAL_APGD_OPTIONS: Readonly<Partial<ApgdOptions>> = Object.freeze({ steps: 100, restarts: 1 });

/** The default evaluation attacks, in the order they are run: PGD-40, then APGD-CE. */
export function defaultEvalAttacks(): Attack[] {
  return [new Pgd({ ...EVAL_PGD_OPTIONS }, 'pgd-40'), new ApgdCe({ ...EVAL_APGD_OPTIONS })];
}

export interface EvalBatch {
  /** Pixel-space inputs [N, ...]. */
  x: tf.Tensor;
  /** Integer labels [N]. */
  y: tf.Tensor1D;
}

export interface RobustAccuracy {
  clean_acc: number;
  robust_acc: number;
  n: number;
}

export interface RobustAccuracyOptions {
  /** Pixel range the box is clipped to. */
  range?: [number, number];
  attackOptions?: AttackRunOptions;
}

/**
 * Clean and robust accuracy at L-inf radius eps (pixel space). A point is robust when it is
 * classified correctly and no attack in the list finds a misclassified input in its box;
 * each attack only runs on the points still robust. Batches belong to the caller.
 */
export function robustAccuracy(
  net: Network,
  batches: Iterable<EvalBatch> | EvalBatch,
  eps: number,
  attacks: Attack[],
  rng: SeededRng,
  opts: RobustAccuracyOptions = {},
): RobustAccuracy {
  const list: Iterable<EvalBatch> = isBatch(batches) ? [batches] : batches;
  let n = 0;
  let clean = 0;
  let robust = 0;
  for (const { x, y } of list) {
    if (y.shape[0] !== x.shape[0]) throw new ConfigError(`a batch holds ${x.shape[0]} inputs but ${y.shape[0]} labels`, undefined, 'robustAccuracy');
    const labels = y.dataSync() as Int32Array | Float32Array;
    const predicted = tf.tidy(() => tf.argMax(net.predict(x), 1));
    const pred = predicted.dataSync();
    predicted.dispose();
    const alive: boolean[] = Array.from(pred, (p, i) => p === labels[i]);
    n += labels.length;
    clean += alive.filter(Boolean).length;
    for (const attack of attacks) {
      const idx = alive.flatMap((a, i) => (a ? [i] : []));
      if (idx.length === 0) break;
      const flipped = tf.tidy(() => {
        const ii = tf.tensor1d(idx, 'int32');
        const xs = tf.gather(x, ii);
        const ys = tf.gather(y, ii) as tf.Tensor1D;
        const box = linfBox(xs, eps, opts.range);
        const res = attack.run(net, xs, ys, box, rng, opts.attackOptions);
        disposeBox(box);
        res.loss.dispose();
        return tf.notEqual(tf.argMax(net.predict(res.x), 1), tf.cast(ys, 'int32'));
      });
      const f = flipped.dataSync();
      flipped.dispose();
      idx.forEach((i, k) => {
        if (f[k]) alive[i] = false;
      });
    }
    robust += alive.filter(Boolean).length;
  }
  return { clean_acc: n ? clean / n : 0, robust_acc: n ? robust / n : 0, n };
}

function isBatch(b: Iterable<EvalBatch> | EvalBatch): b is EvalBatch {
  return (b as EvalBatch).x instanceof tf.Tensor;
}
