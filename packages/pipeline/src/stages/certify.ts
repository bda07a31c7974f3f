import * as tf from '@tensorflow/tfjs-core';
import { boxAround, createBoundMethod, specMatrix } from '@certkd/bounds';
import { ConfigError } from '@certkd/core';
import { Pgd, EVAL_PGD_OPTIONS } from '@certkd/attacks';
import { VERIFY_METHODS, VerifyMethod, certifyPoints } from '@certkd/certifier';
import { Emit } from '../engine/async-stage';
import { keyedSeed } from '../engine/seeds';
import { RunContext } from '../engine/context';
import { CertifyStage } from '../recipe/schema';
import { asyncStage, tick } from '../engine/async-stage';
import { evalBatches, selectModels } from './evaluate';

/**
 * Certified accuracy with incomplete bound methods, tried in the given order per point: a point
 * counts once it is correctly classified and some method proves every logit margin positive.
 */
export function certifyStage(ctx: RunContext, st: CertifyStage, index: number) {
  return asyncStage(async (emit) => {
    const test = ctx.test;
    const ds = ctx.dataset;
    if (!test || !ds) throw new ConfigError('no dataset is loaded', ctx.recipeFile, `stages.${index}`);
    if (st.timeout > 0) return completeCertification(ctx, st, index, emit);
    const methods = st.methods.map((m) => createBoundMethod(m));
    const eps = st.eps ?? ctx.recipe.eps;
    const n = Math.min(st.n ?? test.size, test.size);
    for (const name of selectModels(ctx, st.models, `stages.${index}.models`)) {
      const net = ctx.models.get(name)!.network;
      const byMethod: Record<string, number> = Object.fromEntries(st.methods.map((m) => [m, 0]));
      const decidedBy: Record<string, number> = Object.fromEntries(st.methods.map((m) => [m, 0]));
      let verified = 0;
      let wrong = 0;
      let done = 0;
      for (const batch of evalBatches(test, st.batchSize, n)) {
        const m = batch.y.shape[0];
        const correct = tf.tidy(() => tf.equal(tf.argMax(net.predict(batch.x), 1), batch.y).dataSync());
        const open = Array.from(correct, Boolean);
        wrong += open.filter((o) => !o).length;
        const spec = specMatrix(batch.y, ds.input.classes);
        const box = boxAround(batch.x, eps);
        for (let k = 0; k < methods.length; k++) {
          const b = methods[k].compute(net, box, { spec });
          const ok = tf.tidy(() => tf.all(tf.greater(b.lower, 0), 1).dataSync());
          tf.dispose([b.lower, b.upper]);
          for (let i = 0; i < m; i++) {
            if (!correct[i] || !ok[i]) continue;
            byMethod[st.methods[k]]++;
            if (open[i]) {
              open[i] = false;
              decidedBy[st.methods[k]]++;
              verified++;
            }
          }
        }
        tf.dispose([spec, box.lower, box.upper, batch.x, batch.y]);
        done += m;
        emit({ type: 'certification-progress', stage: 'certify', done, total: n, verified, falsified: wrong });
        await tick();
      }
      const res = (ctx.results[name] ??= { architecture: ctx.models.get(name)!.architecture, role: ctx.models.get(name)!.role });
      res.certified_acc = verified / n;
      res.certified_by_method = Object.fromEntries(Object.entries(byMethod).map(([k, v]) => [k, v / n]));
      res.certifier = st.methods.join('>');
      res.verdicts = { ...Object.fromEntries(Object.entries(decidedBy).map(([k, v]) => [`verified-${k}`, v])), misclassified: wrong, unknown: n - verified - wrong };
      res.eps = eps;
      emit({ type: 'evaluation', stage: 'certify', model: name, metric: 'certified_acc', value: verified / n, n, eps });
    }
  });
}

/**
 * Escalation per point (METHODS 8): clean prediction, PGD falsification, the incomplete methods,
 * then branch-and-bound until the per-point timeout. Verdicts stream to
 * runs/<name>/certify-<model>.jsonl, so an interrupted certification resumes where it stopped.
 */
async function completeCertification(ctx: RunContext, st: CertifyStage, index: number, emit: Emit): Promise<void> {
  const test = ctx.test!;
  const where = `stages.${index}.methods`;
  for (const m of st.methods) {
    if (!(VERIFY_METHODS as readonly string[]).includes(m)) throw new ConfigError(`unknown method '${m}' for complete certification; allowed: ${VERIFY_METHODS.join(', ')}`, ctx.recipeFile, where);
  }
  const eps = st.eps ?? ctx.recipe.eps;
  const n = Math.min(st.n ?? test.size, test.size);
  const idx = Array.from({ length: n }, (_, i) => i);
  const { x, y } = test.read(idx);
  for (const name of selectModels(ctx, st.models, `stages.${index}.models`)) {
    const net = ctx.models.get(name)!.network;
    const falsifier = st.workers > 1 ? undefined : new Pgd({ ...EVAL_PGD_OPTIONS }, 'pgd-40');
    const summary = await certifyPoints(net, x, y, {
      eps,
      timeoutS: st.timeout,
      methods: st.methods as VerifyMethod[],
      workers: st.workers,
      out: `${ctx.paths.root}/certify-${name}.jsonl`,
      falsifier,
      seed: keyedSeed(ctx.recipe.seed, 'certify'),
      onProgress: (done, total, s) => emit({ type: 'certification-progress', stage: 'certify', done, total, verified: s.certified, falsified: s.counts.falsified ?? 0 }),
    });
    const res = (ctx.results[name] ??= { architecture: ctx.models.get(name)!.architecture, role: ctx.models.get(name)!.role });
    res.certified_acc = summary.certified_acc;
    // The escalation's deciding method per verified point; certified_by_method keeps what an
    // incomplete certify stage measured for each method alone.
    res.decided_by = Object.fromEntries(Object.entries(summary.by_method).map(([k, v]) => [k, (v ?? 0) / n]));
    res.certifier = `escalation(${st.methods.join('>')}>bab, timeout ${st.timeout} s)`;
    res.verdicts = { ...summary.counts } as Record<string, number>;
    res.eps = eps;
    emit({ type: 'evaluation', stage: 'certify', model: name, metric: 'certified_acc', value: summary.certified_acc, n, eps });
  }
}
