#!/usr/bin/env node
// Run a VNN-COMP benchmark under ../shared/vnncomp (relative to the repository root) by its
// instances.csv with @certkd/certifier (built dist), and print per instance and in total our
// verdict and time beside each published tool's result within the same time limit, with a
// VNN-COMP style score (+10 per correct sat/unsat, -150 per wrong, correctness judged by the
// majority of the published sat/unsat verdicts for the instance, whatever their time).
//
// Usage: node tools/bench-verify/bench.cjs YEAR/BENCHMARK [--timeout S] [--workers W]
//          [--limit N] [--filter TEXT] [--out results.jsonl] [--backend wasm|cpu] [--tools a,b]
//          [--branching babsr|fsb]
//   YEAR/BENCHMARK: 2021/mnistfc, 2021/eran, 2021/oval21, 2021/marabou-cifar10, 2022/mnist_fc,
//   2022/oval21 (any folder with an instances csv works). --timeout is ours and the limit the
//   published results are cut at (default 60). --workers > 0 runs piscina worker threads on
//   dist/worker.js (default 0: this thread). --filter keeps instances whose onnx or vnnlib path
//   contains TEXT; several items separated by commas keep any match, and an item NET:PROP (as
//   the table names instances) keeps the instances of that network and property. --out
//   resumes: instances recorded there with any result but error are not run again.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { sharedPath, requireData } = require('../jest/shared-data.cjs');

const NORMAL = { holds: 'unsat', unsat: 'unsat', violated: 'sat', sat: 'sat' };
/** A published or our result word as sat / unsat / other. */
const norm = (w) => NORMAL[String(w).trim().toLowerCase()] ?? 'other';
const baseKey = (onnx, vnnlib) => `${path.basename(onnx)}|${path.basename(vnnlib).replace(/\.gz$/, '')}`;

/**
 * --filter: comma-separated items, an instance is kept when one matches: TEXT (its onnx or vnnlib
 * path contains it) or NET:PROP as the table prints instances (both parts contained).
 */
function filterMatches(filter, t) {
  return filter.split(',').some((item) => {
    const [net, prop] = item.split(':');
    return prop === undefined ? t.onnx.includes(net) || t.vnnlib.includes(net) : t.onnx.includes(net) && t.vnnlib.includes(prop);
  });
}

function parseArgs(argv) {
  const opts = { timeout: 60, workers: 0, backend: 'wasm' };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--timeout') opts.timeout = Number(val());
    else if (a === '--workers') opts.workers = Number(val());
    else if (a === '--limit') opts.limit = Number(val());
    else if (a === '--filter') opts.filter = val();
    else if (a === '--out') opts.out = val();
    else if (a === '--backend') opts.backend = val();
    else if (a === '--tools') opts.tools = val().split(',');
    else if (a === '--branching') opts.branching = val();
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else rest.push(a);
  }
  if (rest.length !== 1 || !/^\d{4}\/[\w.-]+$/.test(rest[0])) throw new Error('give one benchmark as YEAR/NAME, e.g. 2021/mnistfc');
  if (!(opts.timeout > 0)) throw new Error('--timeout must be > 0');
  if (opts.branching !== undefined && !['babsr', 'fsb'].includes(opts.branching)) throw new Error(`--branching must be babsr or fsb, got '${opts.branching}'`);
  if (!(Number.isInteger(opts.workers) && opts.workers >= 0)) throw new Error('--workers must be an integer >= 0');
  [opts.year, opts.bench] = rest[0].split('/');
  return opts;
}

/** Published results of the benchmark: Map instance key -> Map tool -> { word, time }. */
function publishedResults(year, bench) {
  const out = new Map();
  const add = (tool, onnx, vnnlib, word, time) => {
    const k = baseKey(onnx, vnnlib);
    if (!out.has(k)) out.set(k, new Map());
    out.get(k).set(tool, { word: norm(word), raw: String(word).trim(), time: Number(time) });
  };
  if (year === '2021') {
    const dir = sharedPath('vnncomp', 'results', '2021', 'results_csv');
    if (!fs.existsSync(dir)) return out;
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.csv'))) {
      const tool = f.replace(/\.csv$/, '');
      for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        const c = line.split(',');
        if (c.length >= 6 && c[0] === bench) add(tool, c[1], c[2], c[4], c[5]);
      }
    }
  } else {
    const dir = sharedPath('vnncomp', 'results', year);
    if (!fs.existsSync(dir)) return out;
    for (const tool of fs.readdirSync(dir)) {
      const f = path.join(dir, tool, bench, 'results.csv');
      if (!fs.existsSync(f)) continue;
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        const c = line.split(',');
        if (c.length >= 6) add(tool, c[1], c[2], c[4], c[5]);
      }
    }
  }
  return out;
}

/** The majority of the published sat/unsat verdicts (no time limit), or undefined on a tie or none. */
function majority(tools) {
  let sat = 0;
  let unsat = 0;
  for (const r of tools.values()) {
    if (r.word === 'sat') sat++;
    else if (r.word === 'unsat') unsat++;
  }
  return sat > unsat ? 'sat' : unsat > sat ? 'unsat' : undefined;
}

/** +10 for a decided verdict that agrees with the majority, -150 for one that disagrees, 0 otherwise. */
function score(word, truth) {
  if (word !== 'sat' && word !== 'unsat') return 0;
  if (!truth) return 0;
  return word === truth ? 10 : -150;
}

function findCsv(dir) {
  const csvs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /instances\.csv$/.test(f)) : [];
  return csvs.length ? path.join(dir, csvs[0]) : path.join(dir, 'instances.csv');
}

async function main(argv = process.argv.slice(2)) {
  const opts = parseArgs(argv);
  const dir = sharedPath('vnncomp', opts.year, opts.bench);
  const csv = findCsv(dir);
  if (!requireData([csv], `the ${opts.year}/${opts.bench} bench`)) process.exit(1);
  require('reflect-metadata');
  const core = require('../../packages/core/dist/index.js');
  const backend = await core.loadBackend(opts.backend);
  const cert = require('../../packages/certifier/dist/index.js');
  const published = publishedResults(opts.year, opts.bench);
  const allTools = new Set();
  for (const m of published.values()) for (const t of m.keys()) allTools.add(t);
  const tools = (opts.tools ?? [...allTools].sort()).filter((t) => allTools.has(t));
  const out = opts.out ?? path.join(os.tmpdir(), `bench-${opts.year}-${opts.bench}-${Date.now()}.jsonl`);
  const short = (t) => t.slice(0, 9).padEnd(9);
  const tasks = cert.instanceTasks(csv, { timeoutS: opts.timeout });
  let chosen = opts.filter ? tasks.filter((t) => filterMatches(opts.filter, t)) : tasks;
  if (opts.limit !== undefined) chosen = chosen.slice(0, opts.limit);
  const keys = new Set(chosen.map((t) => t.key));
  console.log(
    `# ${opts.year}/${opts.bench}: ${chosen.length} instances, timeout ${opts.timeout} s, workers ${opts.workers}, backend ${backend.name}, branching ${opts.branching ?? 'babsr'}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`${'instance'.padEnd(58)} ${'ours'.padEnd(7)} ${'time_s'.padStart(6)} ${'method'.padEnd(11)} ${'major'.padEnd(5)} ${tools.map(short).join(' ')}`);
  const row = (key, r) => {
    const [onnx, vnnlib] = key.split(',');
    const pub = published.get(baseKey(onnx, vnnlib)) ?? new Map();
    const truth = majority(pub);
    const ours = norm(r.result) === 'other' ? r.result : norm(r.result);
    const cells = tools.map((t) => {
      const p = pub.get(t);
      if (!p) return '-'.padEnd(9);
      const w = p.word !== 'other' && p.time <= opts.timeout ? p.word : p.word === 'other' ? p.raw.slice(0, 7) : 'late';
      return `${w}${p.word !== 'other' && p.time <= opts.timeout ? ' ' + p.time.toFixed(0) : ''}`.slice(0, 9).padEnd(9);
    });
    const name = `${path.basename(onnx).replace(/\.onnx$/, '')}:${path.basename(vnnlib).replace(/\.vnnlib(\.gz)?$/, '')}`;
    console.log(
      `${name.slice(0, 58).padEnd(58)} ${String(ours).padEnd(7)} ${Number(r.verdict.time_s ?? NaN)
        .toFixed(1)
        .padStart(6)} ${String(r.verdict.method ?? '').padEnd(11)} ${(truth ?? '?').padEnd(5)} ${cells.join(' ')}`,
    );
  };
  const t0 = Date.now();
  await cert.runInstancesCsv(csv, {
    out,
    timeoutS: opts.timeout,
    workers: opts.workers,
    backend: opts.backend,
    branching: opts.branching,
    filter: (t) => keys.has(t.key),
    onRecord: (r) => row(r.key, r),
  });
  // Totals over every instance of the out file that belongs to this selection (resumed ones too).
  const records = cert.readTaskRecords(out);
  const tally = { sat: 0, unsat: 0, timeout: 0, unknown: 0, error: 0, correct: 0, wrong: 0, score: 0 };
  const toolTally = new Map(tools.map((t) => [t, { decided: 0, correct: 0, wrong: 0, score: 0 }]));
  let n = 0;
  for (const [key, r] of records) {
    if (!keys.has(key)) continue;
    n++;
    const [onnx, vnnlib] = key.split(',');
    const pub = published.get(baseKey(onnx, vnnlib)) ?? new Map();
    const truth = majority(pub);
    const w = norm(r.result);
    tally[w === 'other' ? (r.result in tally ? r.result : 'unknown') : w]++;
    const s = score(w, truth);
    tally.score += s;
    if (s > 0) tally.correct++;
    if (s < 0) tally.wrong++;
    for (const t of tools) {
      const p = pub.get(t);
      const tt = toolTally.get(t);
      if (!p || p.word === 'other' || p.time > opts.timeout) continue;
      tt.decided++;
      const ps = score(p.word, truth);
      tt.score += ps;
      if (ps > 0) tt.correct++;
      if (ps < 0) tt.wrong++;
    }
  }
  console.log(
    `\nours: ${n} instances, sat ${tally.sat}, unsat ${tally.unsat}, timeout ${tally.timeout}, unknown ${tally.unknown}, error ${tally.error}; decided ${tally.sat + tally.unsat}, correct ${tally.correct}, wrong ${tally.wrong}, score ${tally.score}`,
  );
  for (const t of tools) {
    const tt = toolTally.get(t);
    console.log(
      `${t.padEnd(18)} decided within ${opts.timeout} s: ${String(tt.decided).padStart(3)}, correct ${tt.correct}, wrong ${tt.wrong}, score ${tt.score}`,
    );
  }
  console.log(
    `wall ${((Date.now() - t0) / 1000).toFixed(1)} s; load average now ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; results in ${out}`,
  );
}

module.exports = { main, parseArgs, publishedResults, majority, score, norm };

if (require.main === module) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(e.exitCode ?? 1);
  });
}
