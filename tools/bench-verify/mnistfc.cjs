#!/usr/bin/env node
// Verify the VNN-COMP 2021 mnistfc 256x2 instances with @certkd/certifier (built dist) and print
// each verdict beside alpha-beta-CROWN's 2021 result.
// Usage: node tools/bench-verify/mnistfc.cjs [--timeout S] [--limit N] [--workers W] [--out file.jsonl]
// (--workers > 0 runs W piscina worker threads on dist/worker.js, wasm backend; resumes from --out)
const path = require('path');
const fs = require('fs');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const timeoutS = Number(opt('--timeout', '60'));
const workers = Number(opt('--workers', '0'));
const limit = opt('--limit') !== undefined ? Number(opt('--limit')) : undefined;
const ROOT = '/work/shared/vnncomp';
const csv = path.join(ROOT, '2021/mnistfc/mnistfc_instances.csv');
const ref = path.join(ROOT, 'results/2021/results_csv/a-b-CROWN.csv');

async function main() {
  require('reflect-metadata');
  const core = require('../../packages/core/dist/index.js');
  await core.loadBackend('wasm').catch(() => core.loadBackend('cpu'));
  const { runInstancesCsv } = require('../../packages/certifier/dist/index.js');
  const abc = new Map();
  for (const line of fs.readFileSync(ref, 'utf8').split('\n')) {
    const c = line.split(',');
    if (c[0] === 'mnistfc' && c[1].includes('256x2')) abc.set(path.basename(c[2]), [c[4].toLowerCase(), Number(c[5])]);
  }
  const out = opt('--out', path.join(require('os').tmpdir(), `mnistfc-${Date.now()}.jsonl`));
  const t0 = Date.now();
  const tally = { sat: 0, unsat: 0, timeout: 0, unknown: 0, agree: 0, disagree: 0 };
  console.log(`instance                 ours      time_s  method        a-b-CROWN  time_s`);
  await runInstancesCsv(csv, {
    out, timeoutS, limit, workers,
    filter: (t) => t.onnx.includes('256x2'),
    onRecord: (r) => {
      const v = path.basename(r.key.split(',')[1]);
      const [w, rt] = abc.get(v) ?? ['?', NaN];
      tally[r.result] = (tally[r.result] ?? 0) + 1;
      if ((r.result === 'sat' || r.result === 'unsat') && (w === 'sat' || w === 'unsat')) tally[r.result === w ? 'agree' : 'disagree']++;
      console.log(`${v.padEnd(24)} ${r.result.padEnd(9)} ${Number(r.verdict.time_s).toFixed(2).padStart(6)}  ${String(r.verdict.method).padEnd(13)} ${w.padEnd(10)} ${rt.toFixed(2)}`);
    },
  });
  console.log(`totals: ${JSON.stringify(tally)}  wall ${((Date.now() - t0) / 1000).toFixed(1)} s  (timeout ${timeoutS} s, workers ${workers}, results in ${out})`);
}
main().catch((e) => { console.error(e.message); process.exit(e.exitCode ?? 1); });
