import * as tf from '@tensorflow/tfjs-core';
import {
  Adam,
  Attack,
  BatchStatsMap,
  Collective,
  FeatureTeacher,
  LossContext,
  Network,
  NumericalError,
  SeededRng,
  TrainingLoss,
  clipByGlobalNorm,
  withCollective,
} from '@certkd/core';

/** What trains a model: the network, its loss, attack and teacher, the loss's own variables and the optimiser over both. */
export interface TrainingParts<T extends FeatureTeacher = FeatureTeacher> {
  net: Network;
  loss: TrainingLoss;
  attack?: Attack;
  teacher?: T;
  /** The loss's own trainable variables (e.g. a feature adapter), optimised with the network. */
  extras: tf.Variable[];
  /** The network's trainable variables and the extras. */
  vars: tf.Variable[];
  adam: Adam;
}

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
  /**
   * Data-parallel training: this worker holds rows [offset, offset + x.shape[0]) of the global
   * batch. Batch reductions inside the loss and BatchNorm run over the global batch, gradients
   * are summed over the workers, and every worker applies the same update.
   */
  collective?: Collective;
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
  return withCollective(s.collective, () => step(s));
}

function step(s: StepInput): StepOutput {
  const c = s.collective && s.collective.size > 1 ? s.collective : undefined;
  // Every worker computes the global loss; each contributes 1/size of it, so the summed gradients are the global gradient.
  const share = c ? 1 / c.size : 1;
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
    return share === 1 ? out.total : tf.mul(out.total, share);
  }, s.vars);
  // A part may be the total itself (a loss with one term): read every value, then dispose each tensor once.
  const partNames = Object.keys(parts);
  const scalars = [value.dataSync()[0], ...partNames.map((k) => parts[k].dataSync()[0] * share)];
  tf.dispose([...new Set([value, ...Object.values(parts)])]);
  let correct = -1;
  if (logits) {
    const l = logits;
    correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(l, 1), s.y), 'int32')).dataSync()[0]);
    l.dispose();
  }
  let ordered = s.vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
  const owned = ordered.filter((g) => !Object.values(grads).includes(g));
  const local = [...scalars, correct];
  let reduced: ArrayLike<number> = local;
  if (c) {
    // One exchange per step for the gradients and the reported values: the mean of the
    // workers' values (equal for losses built on the batch helpers), the total correct.
    const summed = sumAcross(c, ordered, local);
    tf.dispose(owned);
    ordered = summed.grads;
    reduced = summed.values;
  }
  const lossValue = reduced[0];
  const partValues = Object.fromEntries(partNames.map((k, i) => [k, reduced[i + 1]]));
  if (correct >= 0) correct = reduced[reduced.length - 1];
  if (!Number.isFinite(lossValue)) {
    tf.dispose([...Object.values(grads), ...(c ? ordered : owned)]);
    disposeStats(bnStats);
    throw new NumericalError(`the training loss became ${lossValue} at step ${s.progress.step} (eps ${s.eps}); lower the learning rate or check the data`);
  }
  const { grads: clipped, norm } = clipByGlobalNorm(ordered, s.gradClip);
  s.adam.apply(clipped, s.lr);
  tf.dispose(Object.values(grads));
  if (clipped !== ordered) tf.dispose(clipped);
  tf.dispose(c ? ordered : owned);
  if (bnStats) {
    s.net.updateRunningStats(bnStats, c ? c.globalBatch : s.x.shape[0]);
    disposeStats(bnStats);
  }
  return { loss: lossValue, parts: partValues, correct, gradNorm: norm };
}

/** Gradients and a few scalars flattened into one vector, summed over the workers, split again. */
function sumAcross(c: Collective, grads: tf.Tensor[], values: number[]): { grads: tf.Tensor[]; values: Float32Array } {
  const total = grads.reduce((n, g) => n + g.size, 0);
  const flat = new Float32Array(total + values.length);
  let at = 0;
  for (const g of grads) {
    flat.set(g.dataSync() as Float32Array, at);
    at += g.size;
  }
  flat.set(values, total);
  const summed = c.sumAcross(flat);
  at = 0;
  const out = grads.map((g) => {
    const t = tf.tensor(summed.subarray(at, at + g.size), g.shape, 'float32');
    at += g.size;
    return t;
  });
  return { grads: out, values: summed.subarray(total) };
}

function disposeStats(stats?: BatchStatsMap): void {
  stats?.forEach((st) => tf.dispose([st.mean, st.variance]));
}
