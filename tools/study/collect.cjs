#!/usr/bin/env node
'use strict';
/**
 * Records and paired tables of a CC-Dist vs CC-IBP study sweep (docs/results.md), from the
 * sweep's store: one JSON record per trained model (the shared teacher and every student),
 * and, per beta, the per-seed differences against beta = 0 with their mean and 95% t-interval.
 *
 *   node tools/study/collect.cjs SWEEP.yaml --store DIR [--json OUT.json] [--study NAME] [--same-points] [--plot OUT.png]
 *                                [--diagnostics diagnose|epoch]
 *
 * --same-points also bounds, for every student with complete-certifier records, the same test
 * points with IBP and CROWN-IBP (wasm backend), so the complete certifier can be compared with
 * the incomplete bounds on identical points (incomplete_on_complete_points). --plot draws the
 * students' diagnostics against beta (feature-box width, unstable ReLUs, teacher distance; one
 * point per seed). The students' diagnostics come from diagnose.json (`--diagnostics diagnose`, the
 * default) or, with `--diagnostics epoch`, from the last epoch end of the train stage's own
 * `diagnostics` (first n test points at the recipe's eps), the same for every student; the
 * epoch-end values of every epoch are kept per record (training_diagnostics) and tabled over
 * training.
 * Per run it reads results.json, and when present complete-certify.summary.json (the output of
 * `certkd certify ... --json`, the complete certifier) and diagnose.json (`certkd diagnose
 * ... --json`). Needs the built packages (npx nx run-many -t build).
 */
require('reflect-metadata');
const fs = require('node:fs');
const path = require('node:path');
const { planSweep, stats } = require('@certkd/scale-out');

function usage(msg) {
  if (msg) console.error(`collect: ${msg}`);
  console.error('usage: node tools/study/collect.cjs SWEEP.yaml --store DIR [--json OUT.json] [--study NAME]');
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { sweep: undefined, store: undefined, json: undefined, study: 'cc-dist-vs-cc-ibp', samePoints: false, plot: undefined, diagnostics: 'diagnose' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--store') o.store = val();
    else if (a === '--json') o.json = val();
    else if (a === '--study') o.study = val();
    else if (a === '--same-points') o.samePoints = true;
    else if (a === '--plot') o.plot = val();
    else if (a === '--diagnostics') o.diagnostics = val();
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('--')) usage(`unknown option '${a}'`);
    else if (!o.sweep) o.sweep = a;
    else usage(`unexpected argument '${a}'`);
  }
  if (!o.sweep || !o.store) usage('give the sweep file and --store');
  if (!['diagnose', 'epoch'].includes(o.diagnostics)) usage(`--diagnostics must be diagnose or epoch, got '${o.diagnostics}'`);
  return o;
}

/** A JSON file, or undefined when absent or still empty (a command still writing it). */
function readJson(f) {
  if (!fs.existsSync(f)) return undefined;
  const text = fs.readFileSync(f, 'utf8').trim();
  if (!text) return undefined;
  try {
    // results.json, or the one-line summary `certkd certify|diagnose --json` prints
    return JSON.parse(text);
  } catch (e) {
    console.error(`collect: ${f}: not JSON (${e.message})`);
    process.exit(2);
  }
}

/** The student stage of a run's recipe and its beta. */
function studentOf(recipe) {
  const st = recipe.stages.find((s) => s.stage === 'train-student');
  if (!st) throw new Error(`recipe ${recipe.name} has no train-student stage`);
  return { st, beta: st.loss.options.beta ?? 0 };
}

/** The train-student stage's epoch-end diagnostics from a run's events, one per epoch (the last one logged for it). */
function epochDiagnostics(dir) {
  const f = path.join(dir, 'events.jsonl');
  if (!fs.existsSync(f)) return [];
  const byEpoch = new Map();
  for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
    if (!line.includes('"diagnostics"')) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a torn last line
    }
    if (e.type === 'epoch-end' && e.stage === 'train-student' && e.diagnostics) byEpoch.set(e.epoch, { epoch: e.epoch, ...e.diagnostics });
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

function records(plan, store, study, diagnosticsFrom = 'diagnose') {
  const out = [];
  let teacherDone = false;
  for (const run of plan.runs) {
    const dir = path.join(store, run.name);
    const res = readJson(path.join(dir, 'results.json'));
    const state = readJson(path.join(dir, 'state.json'));
    if (!res || !res.models || !res.models.student || res.models.student.certified_acc === undefined) continue;
    if (state && state.completed && state.completed.length < run.recipe.stages.length) continue;
    const { st, beta } = studentOf(run.recipe);
    const s = res.models.student;
    const t = res.models.teacher ?? {};
    const base = { study, sweep: plan.loaded.sweep.name, dataset: res.dataset, eps: res.eps, backend: res.backend };
    if (!teacherDone && t.pgd_acc !== undefined) {
      teacherDone = true;
      const teacherStage = plan.teachers[0]?.recipe.stages[0];
      out.push({
        ...base,
        run: plan.teachers[0]?.name ?? run.name,
        arm: 'teacher',
        beta: null,
        seed: teacherStage?.seed ?? res.seed,
        epochs: teacherStage?.epochs ?? null,
        trained_with: t.trained_with ?? 'pgd-at',
        clean_acc: t.clean_acc,
        pgd_acc: t.pgd_acc,
        n_pgd: t.n_examples,
        certified_acc: null,
        certifier: null,
        n_certified: null,
      });
    }
    const complete = readJson(path.join(dir, 'complete-certify.summary.json'));
    const training = epochDiagnostics(dir);
    const last = training[training.length - 1];
    const diag =
      diagnosticsFrom === 'epoch'
        ? last && { ...last, n: st.diagnostics?.n, eps: res.eps, relu_units: Math.round(last.unstable_relus / last.unstable_fraction) }
        : readJson(path.join(dir, 'diagnose.json'));
    const incomplete = s.certified_acc;
    const rec = {
      ...base,
      run: run.name,
      arm: beta === 0 ? 'cc-ibp' : 'cc-dist',
      beta,
      seed: res.seed,
      epochs: st.epochs,
      teacher_pgd_acc: t.pgd_acc ?? null,
      clean_acc: s.clean_acc,
      pgd_acc: s.pgd_acc,
      n_pgd: s.n_examples,
      certified_acc: complete ? complete.certified_acc : incomplete,
      certifier: complete ? 'complete: escalation clean>attack>pgd>ibp>crown>alpha-crown>relu-bab, 10 s per point' : 'IBP or CROWN-IBP',
      n_certified: complete ? complete.n : s.n_examples,
      incomplete_certified_acc: incomplete,
      ibp_acc: s.certified_by_method?.ibp ?? null,
      crown_ibp_acc: s.certified_by_method?.['crown-ibp'] ?? null,
      ...(complete ? { complete_verdicts: complete.counts, complete_decided_by: complete.by_method } : {}),
      ...(diag
        ? {
            diagnostics: {
              n: diag.n,
              eps: diag.eps,
              feature_box_width: diag.feature_box_width,
              unstable_relus: diag.unstable_relus,
              unstable_fraction: diag.unstable_fraction,
              relu_units: diag.relu_units,
              teacher_distance: diag.teacher_distance,
              teacher_distance_rel: diag.teacher_distance_rel,
            },
          }
        : {}),
      ...(training.length ? { training_diagnostics: training } : {}),
      train_wall_s: s.train_wall_s,
    };
    out.push(rec);
  }
  return out;
}

/** IBP-or-CROWN-IBP certified accuracy of a run's student on the points its complete certifier decided (same test indices). */
async function incompleteOnPoints(dir, dataset, eps, indices) {
  const tf = require('@tensorflow/tfjs-core');
  const { loadBackend, loadModel } = require('@certkd/core');
  const datasets = require('@certkd/datasets');
  const { ibp, crownIbp, boxAround, specMatrix } = require('@certkd/bounds');
  const Source = { mnist: datasets.MnistSource, 'fashion-mnist': datasets.FashionMnistSource }[dataset];
  if (!Source) throw new Error(`--same-points: dataset ${dataset} is not supported here`);
  await loadBackend('wasm');
  const { network } = loadModel(path.join(dir, 'models', 'student'));
  const ds = await new Source({}).load({});
  const K = network.outputShape[0];
  let certified = 0;
  for (let s = 0; s < indices.length; s += 100) {
    const idx = indices.slice(s, s + 100);
    const { x, y } = ds.test.read(idx);
    certified += tf.tidy(() => {
      const xb = tf.tensor(x, [idx.length, ...ds.test.shape]);
      const yb = tf.tensor1d(Array.from(y), 'int32');
      const box = boxAround(xb, eps);
      const spec = specMatrix(yb, K);
      const correct = tf.equal(tf.argMax(network.predict(xb), 1), yb);
      const byIbp = tf.all(tf.greater(ibp(network, box, { spec }).lower, 0), 1);
      const byCrownIbp = tf.all(tf.greater(crownIbp(network, box, { spec }).lower, 0), 1);
      return tf.sum(tf.cast(tf.logicalAnd(correct, tf.logicalOr(byIbp, byCrownIbp)), 'int32')).dataSync()[0];
    });
  }
  network.dispose();
  return certified / indices.length;
}

/** The students' diagnostics against beta, one panel per diagnostic, one point per seed. */
async function plotDiagnostics(recs, file) {
  const { renderPngs } = require('@certkd/pipeline');
  const names = { feature_box_width: 'feature-box width (IBP)', unstable_relus: 'unstable ReLUs per point', teacher_distance: 'teacher feature distance' };
  const values = recs
    .filter((r) => r.arm !== 'teacher' && r.diagnostics)
    .flatMap((r) => Object.entries(names).map(([k, title]) => ({ beta: String(r.beta), seed: `seed ${r.seed}`, diagnostic: title, value: r.diagnostics[k] })));
  if (!values.length) throw new Error('--plot: no run has diagnostics');
  const n = recs.find((r) => r.diagnostics)?.diagnostics.n;
  const spec = {
    title: `Diagnostics of the students on ${recs[0].dataset} at eps ${recs[0].eps} (${n} test points)`,
    data: { values },
    facet: { column: { field: 'diagnostic', type: 'nominal', title: null } },
    spec: {
      width: 200,
      height: 180,
      mark: { type: 'point', filled: true, size: 60 },
      encoding: {
        x: { field: 'beta', type: 'ordinal', title: 'beta' },
        y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
        color: { field: 'seed', type: 'nominal' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
  await renderPngs([{ spec, file: path.resolve(file) }]);
}

const pct = (v) => (v === null || v === undefined ? '–' : (100 * v).toFixed(2));
const pts = (v) => (v === null || v === undefined ? '–' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}`);

/** Markdown: the arms' means, then per beta > 0 the paired differences against beta = 0. */
function tables(recs) {
  const students = recs.filter((r) => r.arm !== 'teacher');
  const betas = [...new Set(students.map((r) => r.beta))].sort((a, b) => a - b);
  const metrics = [
    ['clean_acc', 'standard'],
    ['pgd_acc', 'PGD-40'],
    ['incomplete_certified_acc', 'IBP or CROWN-IBP'],
    ['ibp_acc', 'IBP alone'],
  ];
  const hasComplete = students.some((r) => r.certifier.startsWith('complete'));
  if (hasComplete) metrics.push(['certified_acc', 'complete certifier']);
  if (students.some((r) => r.incomplete_on_complete_points !== undefined)) metrics.push(['incomplete_on_complete_points', 'IBP or CROWN-IBP, same points']);
  const value = (r, m) => (m === 'certified_acc' && !r.certifier.startsWith('complete') ? undefined : r[m]);
  const lines = [];
  lines.push(`| beta | seeds | ${metrics.map(([, n]) => `${n} (%) mean ± sd`).join(' | ')} |`);
  lines.push(`|---|---|${metrics.map(() => '---').join('|')}|`);
  for (const b of betas) {
    const rs = students.filter((r) => r.beta === b);
    const cells = metrics.map(([m]) => {
      const xs = rs.map((r) => value(r, m)).filter((v) => typeof v === 'number');
      if (!xs.length) return '–';
      const s = stats(xs);
      return `${pct(s.mean)}${s.sd !== null ? ` ± ${(100 * s.sd).toFixed(2)}` : ''}${xs.length < rs.length ? ` (${xs.length})` : ''}`;
    });
    lines.push(`| ${b} | ${rs.map((r) => r.seed).join(', ')} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  for (const b of betas.filter((x) => x !== 0)) {
    lines.push(`Paired differences, beta ${b} − beta 0 (points; per seed, then the mean and its 95% t-interval):`);
    lines.push('');
    lines.push(`| seed | ${metrics.map(([, n]) => n).join(' | ')} |`);
    lines.push(`|---|${metrics.map(() => '---').join('|')}|`);
    const diffs = metrics.map(() => []);
    for (const r of students.filter((x) => x.beta === b).sort((x, y) => x.seed - y.seed)) {
      const base = students.find((x) => x.beta === 0 && x.seed === r.seed);
      if (!base) continue;
      const row = metrics.map(([m], k) => {
        const a = value(r, m);
        const c = value(base, m);
        if (typeof a !== 'number' || typeof c !== 'number') return '–';
        diffs[k].push(a - c);
        return pts(a - c);
      });
      lines.push(`| ${r.seed} | ${row.join(' | ')} |`);
    }
    const summary = diffs.map((d) => {
      if (!d.length) return '–';
      const s = stats(d);
      return `**${pts(s.mean)}**${s.ci95 ? ` [${pts(s.ci95[0])}, ${pts(s.ci95[1])}]` : ''}`;
    });
    lines.push(`| mean [95% CI] | ${summary.join(' | ')} |`);
    lines.push('');
  }
  const withDiag = students.filter((r) => r.diagnostics);
  if (withDiag.length) {
    lines.push('Diagnostics (mean ± sd over seeds):');
    lines.push('');
    lines.push(`| beta | seeds | feature-box width | unstable ReLUs per point (of ${withDiag[0].diagnostics.relu_units}) | teacher feature distance |`);
    lines.push('|---|---|---|---|---|');
    for (const b of betas) {
      const rs = withDiag.filter((r) => r.beta === b);
      if (!rs.length) continue;
      const cell = (k, digits) => {
        const st = stats(rs.map((r) => r.diagnostics[k]));
        return `${st.mean.toFixed(digits)}${st.sd !== null ? ` ± ${st.sd.toFixed(digits)}` : ''}`;
      };
      lines.push(
        `| ${b} | ${rs.map((r) => r.seed).join(', ')} | ${cell('feature_box_width', 3)} | ${cell('unstable_relus', 0)} | ${cell('teacher_distance', 1)} |`,
      );
    }
    lines.push('');
  }
  const withTraining = students.filter((r) => r.training_diagnostics);
  if (withTraining.length) {
    const epochs = [...new Set(withTraining.flatMap((r) => r.training_diagnostics.map((d) => d.epoch)))].sort((a, b) => a - b);
    lines.push('Over training, at each epoch end (mean over seeds): feature-box width / unstable ReLUs per point / teacher feature distance:');
    lines.push('');
    lines.push(`| beta | ${epochs.map((e) => `epoch ${e}`).join(' | ')} |`);
    lines.push(`|---|${epochs.map(() => '---').join('|')}|`);
    for (const b of betas) {
      const rs = withTraining.filter((r) => r.beta === b);
      if (!rs.length) continue;
      const cells = epochs.map((e) => {
        const ds = rs.map((r) => r.training_diagnostics.find((d) => d.epoch === e)).filter(Boolean);
        if (!ds.length) return '–';
        const mean = (k) => ds.reduce((a, d) => a + (d[k] ?? NaN), 0) / ds.length;
        return `${mean('feature_box_width').toFixed(3)} / ${mean('unstable_relus').toFixed(0)} / ${mean('teacher_distance').toFixed(1)}`;
      });
      lines.push(`| ${b} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const plan = planSweep(path.resolve(o.sweep));
  const recs = records(plan, path.resolve(o.store), o.study, o.diagnostics);
  if (o.samePoints) {
    for (const r of recs) {
      if (!r.certifier || !r.certifier.startsWith('complete')) continue;
      const dir = path.join(path.resolve(o.store), r.run);
      const lines = fs.readFileSync(path.join(dir, 'complete-certify.jsonl'), 'utf8').trim().split('\n');
      const indices = lines.map((l) => JSON.parse(l).index).sort((a, b) => a - b);
      r.incomplete_on_complete_points = await incompleteOnPoints(dir, r.dataset, r.eps, indices);
    }
  }
  if (o.plot) {
    await plotDiagnostics(recs, o.plot);
    console.error(`collect: plot in ${o.plot}`);
  }
  if (o.json) {
    fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
    const tmp = `${o.json}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(recs, null, 1) + '\n');
    fs.renameSync(tmp, o.json);
    console.error(`collect: ${recs.length} records in ${o.json}`);
  }
  process.stdout.write(tables(recs) + '\n');
}

main().catch((e) => {
  console.error(`collect: ${e.message}`);
  process.exit(1);
});
