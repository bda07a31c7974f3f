import * as tf from '@tensorflow/tfjs-core';
import { boxAround, specMatrix } from '@certkd/bounds';
import { ConfigError } from '@certkd/core';
import { EVAL_PGD_OPTIONS } from '@certkd/attacks';
import { VERIFY_METHODS } from '@certkd/certifier';
import { Emit } from '../engine/async-stage';
import { keyedSeed } from '../engine/seeds';
import { RunContext } from '../engine/context';
import { CertifyStage } from '../recipe/schema';
import { asyncStage, tick } from '../engine/async-stage';
import { evalBatches, selectModels } from './evaluate';
import { boundMethodOptions, methodRef } from '../recipe/validate-recipe';

/** A methods entry's name in results: the method, with its relaxation choice when it has one (crown[relu=zero-slope]). */
export function methodLabel(m: CertifyStage['methods'][number], stageRelaxations?: Record<string, string>): string {
  const ref = methodRef(m);
  const rel = ref.relaxations ?? stageRelaxations;
  const choice = rel
    ? Object.entries(rel)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '';
  return choice ? `${ref.name}[${choice}]` : ref.name;
}

/**
 * Certified accuracy with incomplete bound methods (bound-method plugins of the run, each with
 * its options and relaxation set), tried in the given order per point: a point counts once it
 * is correctly classified and some method proves every logit margin positive.
 */
export function certifyStage(ctx: RunContext, st: CertifyStage, index: number) {
  return asyncStage(ctx, async (emit) => {
    const test = ctx.test;
    const ds = ctx.dataset;
    if (!test || !ds) throw new ConfigError('no dataset is loaded', ctx.recipeFile, `stages.${index}`);
    if (st.timeout > 0) return completeCertification(ctx, st, index, emit);
    const methods = st.methods.map((m, k) =>
      ctx.registry.create('bound-method', methodRef(m).name, boundMethodOptions(methodRef(m), st.relaxations), `stages.${index}.methods.${k}`, ctx.recipeFile),
    );
    const labels = st.methods.map((m) => methodLabel(m, st.relaxations));
    const eps = st.eps ?? ctx.recipe.eps;
    const n = Math.min(st.n ?? test.size, test.size);
    for (const name of selectModels(ctx, st.models, `stages.${index}.models`)) {
      const net = ctx.models.get(name)!.network;
      const byMethod: Record<string, number> = Object.fromEntries(labels.map((m) => [m, 0]));
      const decidedBy: Record<string, number> = Object.fromEntries(labels.map((m) => [m, 0]));
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
            byMethod[labels[k]]++;
            if (open[i]) {
              open[i] = false;
              decidedBy[labels[k]]++;
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
      res.certifier = labels.join('>');
      res.verdicts = {
        ...Object.fromEntries(Object.entries(decidedBy).map(([k, v]) => [`verified-${k}`, v])),
        misclassified: wrong,
        unknown: n - verified - wrong,
      };
      res.eps = eps;
      emit({ type: 'evaluation', stage: 'certify', model: name, metric: 'certified_acc', value: verified / n, n, eps });
    }
  });
}

/**
 * Escalation per point (METHODS 8) by the certifier-stage plugin (default 'escalation'): clean
 * prediction, PGD falsification, the incomplete methods, then branch-and-bound until the
 * per-point timeout. Verdicts stream to runs/<name>/certify-<model>.jsonl, so an interrupted
 * certification resumes where it stopped.
 */
async function completeCertification(ctx: RunContext, st: CertifyStage, index: number, emit: Emit): Promise<void> {
  const test = ctx.test!;
  const where = `stages.${index}`;
  const refs = st.methods.map(methodRef);
  refs.forEach((m, k) => {
    if (!(VERIFY_METHODS as readonly string[]).includes(m.name))
      throw new ConfigError(
        `unknown method '${m.name}' for complete certification; allowed: ${VERIFY_METHODS.join(', ')}`,
        ctx.recipeFile,
        `${where}.methods.${k}`,
      );
  });
  // The escalation takes one relaxation set for every method and for branch and bound.
  const relaxations = st.relaxations ?? refs.find((m) => m.relaxations)?.relaxations;
  const certifierRef = st.certifier ?? { name: 'escalation', options: {} };
  const certifier = ctx.registry.create(
    'certifier-stage',
    certifierRef.name,
    { ...certifierRef.options, methods: refs.map((m) => m.name), timeoutS: st.timeout, ...(relaxations ? { relaxations } : {}) },
    `${where}.certifier.options`,
    ctx.recipeFile,
  );
  const eps = st.eps ?? ctx.recipe.eps;
  const n = Math.min(st.n ?? test.size, test.size);
  const idx = Array.from({ length: n }, (_, i) => i);
  const { x, y } = test.read(idx);
  for (const name of selectModels(ctx, st.models, `stages.${index}.models`)) {
    const net = ctx.models.get(name)!.network;
    const falsifier = st.workers > 1 ? undefined : ctx.registry.create('attack', 'pgd', { ...EVAL_PGD_OPTIONS });
    const summary = await certifier.certifyPoints(net, x, y, {
      eps,
      workers: st.workers,
      out: `${ctx.paths.root}/certify-${name}.jsonl`,
      falsifier,
      seed: keyedSeed(ctx.recipe.seed, 'certify'),
      onProgress: (done, total, s) =>
        emit({ type: 'certification-progress', stage: 'certify', done, total, verified: s.certified, falsified: s.counts.falsified ?? 0 }),
    });
    const res = (ctx.results[name] ??= { architecture: ctx.models.get(name)!.architecture, role: ctx.models.get(name)!.role });
    res.certified_acc = summary.certified_acc;
    // The escalation's deciding method per verified point; certified_by_method keeps what an
    // incomplete certify stage measured for each method alone.
    res.decided_by = Object.fromEntries(Object.entries(summary.by_method).map(([k, v]) => [k, (v ?? 0) / n]));
    res.certifier = `${certifierRef.name}(${st.methods.map((m) => methodLabel(m, st.relaxations)).join('>')}>bab, timeout ${st.timeout} s)`;
    res.verdicts = { ...summary.counts } as Record<string, number>;
    res.eps = eps;
    emit({ type: 'evaluation', stage: 'certify', model: name, metric: 'certified_acc', value: summary.certified_acc, n, eps });
  }
}
