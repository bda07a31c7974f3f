import * as tf from '@tensorflow/tfjs-core';
import { EVAL_APGD_OPTIONS, EVAL_PGD_OPTIONS, robustAccuracy } from '@certkd/attacks';
import { Attack, ConfigError, DataSplit, SeededRng } from '@certkd/core';
import { RunContext } from '../engine/context';
import { EvaluateStage } from '../recipe/schema';
import { asyncStage, tick } from '../engine/async-stage';
import { keyedSeed } from '../engine/seeds';
import { accuracy } from './accuracy';

/** Models a stage applies to: the named ones, or every model of the run. */
export function selectModels(ctx: RunContext, names: string[] | undefined, where: string): string[] {
  const all = [...ctx.models.keys()];
  if (!names) return all;
  for (const n of names) {
    if (!ctx.models.has(n)) throw new ConfigError(`unknown model '${n}'; models so far: ${all.join(', ') || '(none)'}`, ctx.recipeFile, where);
  }
  return names;
}

/** Clean accuracy, and PGD-40 / APGD-CE robust accuracy at the run's eps, on the test split. */
export function evaluateStage(ctx: RunContext, st: EvaluateStage, index: number) {
  return asyncStage(ctx, async (emit) => {
    const test = ctx.test;
    if (!test) throw new ConfigError('no dataset is loaded', ctx.recipeFile, `stages.${index}`);
    const eps = st.eps ?? ctx.recipe.eps;
    const n = Math.min(st.n ?? test.size, test.size);
    for (const name of selectModels(ctx, st.models, `stages.${index}.models`)) {
      const net = ctx.models.get(name)!.network;
      const res = (ctx.results[name] ??= { architecture: ctx.models.get(name)!.architecture, role: ctx.models.get(name)!.role });
      if (st.metrics.includes('clean')) {
        const { acc } = accuracy(net, test, st.batchSize, test.size);
        res.clean_acc = acc;
        res.n_examples = test.size;
        emit({ type: 'evaluation', stage: 'evaluate', model: name, metric: 'clean_acc', value: acc, n: test.size });
      }
      const attacks: [string, Attack][] = [];
      if (st.metrics.includes('pgd')) attacks.push(['pgd_acc', ctx.registry.create('attack', 'pgd', { ...EVAL_PGD_OPTIONS })]);
      if (st.metrics.includes('apgd')) attacks.push(['apgd_acc', ctx.registry.create('attack', 'apgd-ce', { ...EVAL_APGD_OPTIONS })]);
      st.attacks?.forEach((a, k) =>
        attacks.push([`robust_acc.${a.name}`, ctx.registry.create('attack', a.name, a.options, `stages.${index}.attacks.${k}.options`, ctx.recipeFile)]),
      );
      for (const [metric, attack] of attacks) {
        // The same attack randomness for every model and recipe with this seed (paired evaluation).
        const rng = new SeededRng(keyedSeed(ctx.recipe.seed, 'evaluate', metric));
        let robust = 0;
        let done = 0;
        for (const batch of evalBatches(test, Math.min(st.batchSize, 200), n)) {
          const r = robustAccuracy(net, batch, eps, [attack], rng);
          tf.dispose([batch.x, batch.y]);
          robust += r.robust_acc * r.n;
          done += r.n;
          emit({ type: 'progress', stage: 'evaluate', label: `${name} ${metric.replace('_acc', '')}`, done, total: n });
          await tick();
        }
        if (metric === 'pgd_acc' || metric === 'apgd_acc') res[metric] = robust / n;
        else (res.robust_acc ??= {})[metric.slice('robust_acc.'.length)] = robust / n;
        res.eps = eps;
        emit({ type: 'evaluation', stage: 'evaluate', model: name, metric, value: robust / n, n, eps });
      }
    }
  });
}

/** Test batches as tensors (caller disposes). */
export function* evalBatches(split: DataSplit, batchSize: number, n: number): Generator<{ x: tf.Tensor4D; y: tf.Tensor1D }> {
  const [h, w, c] = split.shape;
  for (let s = 0; s < n; s += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, n - s) }, (_, i) => s + i);
    const { x, y } = split.read(idx);
    yield { x: tf.tensor4d(x, [idx.length, h, w, c]), y: tf.tensor1d(y, 'int32') };
  }
}
