import * as tf from '@tensorflow/tfjs-core';
import { Adam, Attack, BatchStatsMap, FeatureTeacher, LossContext, Network, NumericalError, SeededRng, TrainingLoss, clipByGlobalNorm } from '@certkd/core';

export interface StepInput {
  net: Network;
  loss: TrainingLoss;
  adam: Adam;
  vars: tf.Variable[];
  x: tf.Tensor;
  y: tf.Tensor1D;
  eps: number;
  epsMax: number;
  rng: SeededRng;
  progress: LossContext['progress'];
  lr: number;
  gradClip: number;
  teacher?: FeatureTeacher;
  attack?: Attack;
}

export interface StepOutput {
  loss: number;
  parts: Record<string, number>;
  /** Correctly classified examples of the clean pass (-1 when the loss did not expose logits). */
  correct: number;
  gradNorm: number;
}

/** One optimisation step: loss and gradients, global-norm clipping, Adam, BatchNorm running statistics. */
export function trainStep(s: StepInput): StepOutput {
  let parts: Record<string, tf.Scalar> = {};
  let bnStats: BatchStatsMap | undefined;
  let logits: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = s.loss.compute({
      net: s.net,
      x: s.x,
      y: s.y,
      eps: s.eps,
      epsMax: s.epsMax,
      rng: s.rng,
      progress: s.progress,
      teacher: s.teacher,
      attack: s.attack,
    });
    parts = Object.fromEntries(Object.entries(out.parts).map(([k, v]) => [k, tf.keep(v)]));
    if (out.bnStats) {
      bnStats = new Map();
      for (const [i, st] of out.bnStats) bnStats.set(i, { mean: tf.keep(st.mean), variance: tf.keep(st.variance) });
    }
    if (out.cleanLogits) logits = tf.keep(out.cleanLogits);
    // Tensors kept here outlive the gradient tape: they are plain values afterwards.
    return out.total;
  }, s.vars);
  const lossValue = value.dataSync()[0];
  // A part may be the total itself (a loss with one term): read every value, then dispose each tensor once.
  const partValues = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
  tf.dispose([...new Set([value, ...Object.values(parts)])]);
  let correct = -1;
  if (logits) {
    const l = logits;
    correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(l, 1), s.y), 'int32')).dataSync()[0]);
    l.dispose();
  }
  if (!Number.isFinite(lossValue)) {
    tf.dispose(Object.values(grads));
    disposeStats(bnStats);
    throw new NumericalError(`the training loss became ${lossValue} at step ${s.progress.step} (eps ${s.eps}); lower the learning rate or check the data`);
  }
  const ordered = s.vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const { grads: clipped, norm } = clipByGlobalNorm(ordered, s.gradClip);
  s.adam.apply(clipped, s.lr);
  tf.dispose(Object.values(grads));
  if (clipped !== ordered) tf.dispose(clipped);
  tf.dispose(ordered.filter((g) => !Object.values(grads).includes(g)));
  if (bnStats) {
    s.net.updateRunningStats(bnStats, s.x.shape[0]);
    disposeStats(bnStats);
  }
  return { loss: lossValue, parts: partValues, correct, gradNorm: norm };
}

function disposeStats(stats?: BatchStatsMap): void {
  stats?.forEach((st) => tf.dispose([st.mean, st.variance]));
}
