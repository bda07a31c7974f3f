#!/usr/bin/env node
'use strict';
/**
 * Step timings of CertKD (built packages) next to the PyTorch reference steps of
 * shared/bench/torch_reference.py, measured in the same invocation.
 *
 *   node tools/bench/steps.cjs [--arch cnn-small,cnn7] [--steps train,ibp,ccibp,ccdist,crown]
 *                              [--runs 10] [--backend wasm,onnxruntime] [--json] [--profile | --profile-shapes] [--no-torch]
 *
 * Every table starts with the machine (CPU model, SIMD level, cores, PyTorch's version and
 * kernel level) and the load average; the PyTorch reference runs at 1 thread and at all cores
 * in the same invocation (ratio_1t, ratio_all). Several backends (comma list) are measured one
 * after the other in the same process.
 *
 * Steps (the same definitions as the reference): train = clean cross-entropy step; ibp = IBP
 * bounds of the logit differences (eval mode, elided head); ccibp = CC-IBP step (alpha 0.5,
 * 1-step attack); ccdist = CC-Dist step with a frozen teacher of the same architecture;
 * crown = CROWN-IBP bounds of the logit differences (eval mode). cnn-small runs at batch 128,
 * CNN7 at batch 32, both on MNIST-shaped random inputs (as the reference).
 */
require('reflect-metadata');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { describeMachine, cores } = require('./machine.cjs');

const ALL_STEPS = ['train', 'ibp', 'ccibp', 'ccdist', 'crown'];
const ARCH_BATCH = { 'cnn-small': 128, cnn7: 32 };
const EPS = 0.1;

function usage(msg) {
  if (msg) console.error(`steps: ${msg}`);
  console.error(
    'usage: node tools/bench/steps.cjs [--arch cnn-small,cnn7] [--steps all|train,ibp,ccibp,ccdist,crown] [--runs N] [--backend wasm,onnxruntime,cpu,tensorflow,auto] [--json] [--profile] [--profile-shapes] [--no-torch] [--torch-script PATH]',
  );
  process.exit(msg ? 2 : 0);
}

function parseArgs(argv) {
  const o = { arch: ['cnn-small', 'cnn7'], steps: ALL_STEPS, runs: 10, backends: ['wasm'], json: false, profile: false, torch: true, torchScript: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--arch') o.arch = val().split(',');
    else if (a === '--steps') {
      const v = val();
      o.steps = v === 'all' ? ALL_STEPS : v.split(',');
    } else if (a === '--runs') o.runs = Number(val());
    else if (a === '--backend') o.backends = val().split(',');
    else if (a === '--json') o.json = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--profile-shapes') o.profile = o.profileShapes = true;
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--torch-script') o.torchScript = val();
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown option '${a}'`);
  }
  for (const a of o.arch) if (!(a in ARCH_BATCH)) usage(`unknown arch '${a}' (choose from ${Object.keys(ARCH_BATCH).join(', ')})`);
  for (const s of o.steps) if (!ALL_STEPS.includes(s)) usage(`unknown step '${s}' (choose from ${ALL_STEPS.join(', ')})`);
  if (!Number.isInteger(o.runs) || o.runs < 1) usage(`--runs must be a positive integer, got ${o.runs}`);
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function findTorchScript(explicit) {
  if (explicit) return explicit;
  const script = require('../jest/shared-data.cjs').sharedPath('bench', 'torch_reference.py'); // ../shared from the repository root
  return fs.existsSync(script) ? script : undefined;
}

/** Reference timings: {step -> ms_median}, or a reason string when they cannot be measured. */
function torchTimings(opts, arch, batch, threads) {
  const python = '/usr/bin/python3';
  const script = findTorchScript(opts.torchScript);
  if (!script) return 'torch_reference.py not found (pass --torch-script)';
  if (!fs.existsSync(python)) return `${python} not found`;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${python} has no torch (apt-get install python3-torch)`;
  const r = spawnSync(
    python,
    [script, '--arch', arch, '--batch', String(batch), '--threads', String(threads), '--runs', String(opts.runs), '--steps', opts.steps.join(',')],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) return `torch_reference.py failed: ${(r.stderr || '').trim().split('\n').pop()}`;
  const out = {};
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const j = JSON.parse(line);
    out[j.step] = j.ms_median;
  }
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const core = require('@certkd/core');
  const { tf, Network, SeededRng, Adam, ARCHITECTURES, architectureOptions, loadBackend } = core;
  const bounds = require('@certkd/bounds');
  const { CcIbpLoss, ccIbpLossOptions, StandardLoss, standardLossOptions } = require('@certkd/certified-losses');
  const { CcDistLoss, ccDistOptions } = require('@certkd/distill-losses');
  const { NetworkTeacher } = require('@certkd/teachers');
  const { trainStep } = require('@certkd/pipeline');

  const rows = [];
  const log = (s) => {
    if (!opts.json) console.log(s);
  };
  const machine = describeMachine();
  log(machine.lines.join('\n'));
  if (opts.json) console.log(JSON.stringify({ machine: machine.info }));
  const loadAvg = () =>
    require('node:os')
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  const allCores = cores();
  const torchCache = new Map();
  const torchFor = (arch, batch, threads) => {
    const key = `${arch}/${threads}`;
    if (!torchCache.has(key)) torchCache.set(key, opts.torch && !opts.profile ? torchTimings(opts, arch, batch, threads) : 'skipped (--no-torch)');
    return torchCache.get(key);
  };

  for (const backend of opts.backends) {
    const info = await loadBackend(backend);
    log(`backend ${info.name} (${info.detail}); load average ${loadAvg()}`);
    for (const arch of opts.arch) {
      const batch = ARCH_BATCH[arch];
      const builder = ARCHITECTURES.find((b) => b.name === arch);
      const spec = builder.build({ shape: [28, 28, 1], classes: 10, mean: [0], std: [1] }, architectureOptions.parse({}));
      const net = Network.create(spec, new SeededRng(0));
      const teacher = new NetworkTeacher(Network.create(spec, new SeededRng(1)), 'teacher');
      const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 7);
      const y = tf.tensor1d(
        Array.from({ length: batch }, (_, i) => (i * 7 + 3) % 10),
        'int32',
      );
      const specM = bounds.specMatrix(y, 10);
      const box = bounds.boxAround(x, EPS);
      const rng = new SeededRng(3);

      const makeTrain = (loss, withTeacher) => {
        if (loss.prepare && withTeacher) loss.prepare(net, teacher, rng);
        const vars = [...net.trainableVariables(), ...(loss.variables ? loss.variables() : [])];
        const adam = new Adam(vars, { lr: 5e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
        let step = 0;
        const fn = () =>
          trainStep({
            net,
            loss,
            adam,
            vars,
            x,
            y,
            eps: EPS,
            epsMax: EPS,
            rng,
            progress: { epoch: 0, step: step++, fraction: 0 },
            lr: 5e-4,
            gradClip: 0,
            teacher: withTeacher ? teacher : undefined,
          });
        fn.dispose = () => adam.dispose?.();
        return fn;
      };
      const makeBound = (method) => () => {
        const b = method(net, box, { spec: specM });
        b.lower.dataSync();
        tf.dispose([b.lower, b.upper]);
      };
      const makers = {
        train: () => makeTrain(new StandardLoss(standardLossOptions.parse({})), false),
        ibp: () => makeBound(bounds.ibp),
        ccibp: () => makeTrain(new CcIbpLoss(ccIbpLossOptions.parse({ alpha: 0.5, attackSteps: 1 })), false),
        ccdist: () => makeTrain(new CcDistLoss(ccDistOptions.parse({ alpha: 0.5, attackSteps: 1 })), true),
        crown: () => makeBound(bounds.crownIbp),
      };

      const torch1 = torchFor(arch, batch, 1);
      const torchAll = allCores > 1 ? torchFor(arch, batch, allCores) : torch1;
      if (typeof torch1 === 'string') log(`torch reference for ${arch}: ${torch1}`);

      for (const step of opts.steps) {
        const fn = makers[step]();
        const before = tf.memory().numTensors;
        fn();
        fn();
        if (opts.profile) {
          await profileStep(tf, fn, `${step} ${arch} b${batch}`, opts.runs, opts.profileShapes);
        } else {
          const ms = [];
          for (let r = 0; r < opts.runs; r++) {
            const t0 = process.hrtime.bigint();
            fn();
            ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          const certkd = median(ms);
          const t1 = typeof torch1 === 'string' ? null : (torch1[step] ?? null);
          const tAll = typeof torchAll === 'string' ? null : (torchAll[step] ?? null);
          const row = {
            backend: info.name,
            step,
            arch,
            batch,
            certkd_ms: round(certkd),
            torch_1t_ms: t1,
            ratio_1t: t1 ? round(certkd / t1, 3) : null,
            [`torch_${allCores}t_ms`]: tAll,
            ratio_all: tAll ? round(certkd / tAll, 3) : null,
            rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
            load: loadAvg(),
          };
          rows.push(row);
          if (opts.json) console.log(JSON.stringify(row));
          else if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(row));
        }
        if (fn.dispose) fn.dispose();
        const leaked = tf.memory().numTensors - before;
        if (leaked > 0 && step !== 'ccdist') log(`note: ${step} ${arch}: ${leaked} tensors more after the runs`);
      }
      tf.dispose([x, y, specM, box.lower, box.upper]);
      teacher.dispose();
      net.dispose();
    }
  }
  if (!opts.json && !opts.profile && rows.length) printTable(rows);
}

const round = (v, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

function printTable(rows) {
  const cols = Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => (r[c] === null ? '-' : String(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals) => vals.map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(cols));
  for (const c of cells) console.log(line(c));
}

/** Kernel time per kernel name over up to 3 profiled calls of fn (after warm-up). */
async function profileStep(tf, fn, label, runs, byShape) {
  const { KernelProfile } = require('@certkd/pipeline');
  const profile = new KernelProfile(byShape);
  for (let r = 0; r < Math.min(runs, 3); r++) await profile.record(fn);
  console.log('\n' + profile.format(label));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
