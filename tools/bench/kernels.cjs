#!/usr/bin/env node
'use strict';
/**
 * Per-kernel times of the heavy kernels on tfjs wasm (what training runs there: XNNPACK forward
 * convs and the gradient formulations of packages/core/src/backend) and on onnxruntime-node at
 * each thread count, next to PyTorch at 1 thread and at all cores, in the same invocation; plus
 * the per-call overhead (a tiny matmul) and the FLOP crossover that sets the routing threshold.
 *
 *   node tools/bench/kernels.cjs [--runs 15] [--threads 1,N] [--no-torch] [--json] [--only overhead,kernels,crossover]
 */
require('reflect-metadata');
const { spawnSync } = require('node:child_process');
const { describeMachine, cores, load, PYTHON } = require('./machine.cjs');

function parseArgs(argv) {
  const o = { runs: 15, threads: [1, cores()], torch: true, json: false, only: ['overhead', 'kernels', 'crossover'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') o.runs = Number(val());
    else if (a === '--threads') o.threads = val().split(',').map(Number);
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--json') o.json = true;
    else if (a === '--only') o.only = val().split(',');
    else {
      console.error('usage: node tools/bench/kernels.cjs [--runs N] [--threads 1,N] [--no-torch] [--json] [--only overhead,kernels,crossover]');
      process.exit(a === '--help' || a === '-h' ? 0 : 2);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs must be a positive integer`);
  if (o.threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error('--threads: positive integers');
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median ms of fn over runs after 2 warm-ups; fn returns a tensor (or tensors) to read and dispose. */
function time(tf, fn, runs) {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = fn();
    const ts = Array.isArray(r) ? r : [r];
    ts[0].dataSync();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    tf.dispose(ts);
    return ms;
  };
  once();
  once();
  const ms = [];
  for (let i = 0; i < runs; i++) ms.push(once());
  return median(ms);
}

/** The heavy kernels of a CNN7 step (batch 32, MNIST-shaped) and of cnn-small (batch 128). */
const KERNELS = [
  { name: 'CNN7 conv 128->128 3x3 s1 [32,14,14,128] forward', x: [32, 14, 14, 128], w: [3, 3, 128, 128], s: 1, pad: 'same', kind: 'fwd' },
  { name: 'CNN7 conv 128->128 3x3 s1 [32,14,14,128] input grad', x: [32, 14, 14, 128], w: [3, 3, 128, 128], s: 1, pad: 'same', kind: 'dx' },
  { name: 'CNN7 conv 128->128 3x3 s1 [32,14,14,128] filter grad', x: [32, 14, 14, 128], w: [3, 3, 128, 128], s: 1, pad: 'same', kind: 'dw' },
  { name: 'CNN7 conv 64->64 3x3 s1 [32,28,28,64] forward', x: [32, 28, 28, 64], w: [3, 3, 64, 64], s: 1, pad: 'same', kind: 'fwd' },
  { name: 'CNN7 conv 64->128 3x3 s2 [32,28,28,64] input grad', x: [32, 28, 28, 64], w: [3, 3, 64, 128], s: 2, pad: 'same', kind: 'dx' },
  { name: 'CNN7 conv 64->128 3x3 s2 [32,28,28,64] filter grad', x: [32, 28, 28, 64], w: [3, 3, 64, 128], s: 2, pad: 'same', kind: 'dw' },
  { name: 'CNN7 dense [32,25088] x [25088,512]', a: [32, 25088], b: [25088, 512], kind: 'mm' },
  { name: 'CNN7 dense grad dy W^T [32,512] x [25088,512]^T', a: [32, 512], b: [25088, 512], tB: true, kind: 'mm' },
  {
    name: 'cnn-small conv 16->32 4x4 s2 [128,14,14,16] forward',
    x: [128, 14, 14, 16],
    w: [4, 4, 16, 32],
    s: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    kind: 'fwd',
  },
  {
    name: 'cnn-small conv 16->32 4x4 s2 [128,14,14,16] filter grad',
    x: [128, 14, 14, 16],
    w: [4, 4, 16, 32],
    s: 2,
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
    kind: 'dw',
  },
];

function kernelFn(tf, core, k, onOrt) {
  if (k.kind === 'mm') {
    const a = tf.randomNormal(k.a, 0, 1, 'float32', 1);
    const b = tf.randomNormal(k.b, 0, 0.05, 'float32', 2);
    // wasm: what training runs (matMulT materialises the transpose); ort: transposed Gemm.
    return { fn: () => (onOrt ? tf.matMul(a, b, false, !!k.tB) : core.matMulT(a, b, false, !!k.tB)), dispose: () => tf.dispose([a, b]) };
  }
  const info = tf.backend_util.computeConv2DInfo(k.x, k.w, k.s, 1, k.pad);
  const x = tf.randomNormal(k.x, 0, 1, 'float32', 1);
  const w = tf.randomNormal(k.w, 0, 0.05, 'float32', 2);
  const dy = tf.randomNormal(info.outShape, 0, 1, 'float32', 3);
  const attrs = { strides: k.s, pad: k.pad, dataFormat: 'NHWC', filterShape: k.w };
  const fns = {
    fwd: () => tf.conv2d(x, w, k.s, k.pad),
    dx: () => (onOrt ? tf.conv2dTranspose(dy, w, k.x, k.s, k.pad) : core.conv2dInputGrad(dy, w, k.x, k.s, k.pad)),
    dw: () => (onOrt ? tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) : core.conv2dFilterGrad(x, dy, k.w, k.s, k.pad)),
  };
  return { fn: fns[k.kind], dispose: () => tf.dispose([x, w, dy]) };
}

/** PyTorch per-kernel medians (ms) at the given thread count, or a reason string. */
function torchKernels(threads, runs) {
  const spec = KERNELS.map((k) => (k.kind === 'mm' || typeof k.pad === 'string' ? k : { ...k, pad: k.pad[1][0] }));
  const code = `
import json, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(${threads})
spec = json.loads(sys.argv[1]); runs = ${runs}
out = {}
def med(f):
    for _ in range(2): f()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort(); return ts[len(ts) // 2]
with torch.no_grad():
    for k in spec:
        if k['kind'] == 'mm':
            a = torch.randn(*k['a']); b = torch.randn(*k['b'])
            f = (lambda a=a, b=b: a @ b.t()) if k.get('tB') else (lambda a=a, b=b: a @ b)
        else:
            n, h, w_, c = k['x']; kh, kw, _, o = k['w']
            x = torch.randn(n, c, h, w_); w = torch.randn(o, c, kh, kw)
            pad = k['pad']; s = k['s']
            p = (kh // 2) if pad == 'same' else (0 if pad == 'valid' else pad)
            y = F.conv2d(x, w, stride=s, padding=p); dy = torch.randn_like(y)
            if k['kind'] == 'fwd': f = lambda x=x, w=w, s=s, p=p: F.conv2d(x, w, stride=s, padding=p)
            elif k['kind'] == 'dx': f = lambda x=x, w=w, dy=dy, s=s, p=p: torch.nn.grad.conv2d_input(x.shape, w, dy, stride=s, padding=p)
            else: f = lambda x=x, w=w, dy=dy, s=s, p=p: torch.nn.grad.conv2d_weight(x, w.shape, dy, stride=s, padding=p)
        out[k['name']] = med(f)
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', code, JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) return `torch unavailable: ${(r.stderr || '').trim().split('\n').pop()}`;
  return JSON.parse(r.stdout);
}

/** Round trip of a tiny request through a worker thread blocked on by Atomics.wait (the design not taken). */
function workerRoundTripUs(n) {
  const { Worker } = require('node:worker_threads');
  const sab = new SharedArrayBuffer(64 + 4 * 16 * 3);
  const flag = new Int32Array(sab, 0, 1);
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const flag = new Int32Array(workerData, 0, 1);
    const io = new Float32Array(workerData, 64, 48);
    parentPort.on('message', () => {
      for (let i = 0; i < 16; i++) io[32 + i] = io[i] * io[16 + i];
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });`;
  const w = new Worker(src, { eval: true, workerData: sab });
  const ms = [];
  for (let i = 0; i < n + 5; i++) {
    Atomics.store(flag, 0, 0);
    const t0 = process.hrtime.bigint();
    w.postMessage(0);
    Atomics.wait(flag, 0, 0, 5000);
    if (i >= 5) ms.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  w.terminate();
  return median(ms);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const core = require('@certkd/core');
  const { tf } = core;
  const machine = describeMachine();
  const out = (s) => !o.json && console.log(s);
  out(machine.lines.join('\n'));
  const info = await core.loadBackend('onnxruntime');
  if (info.name !== 'onnxruntime') throw new Error(`onnxruntime kernels unavailable: ${info.detail}`);
  out(`backend: ${info.detail}\n`);
  const results = { machine: machine.info };

  if (o.only.includes('overhead')) {
    const a = tf.randomNormal([4, 4]);
    const b = tf.randomNormal([4, 4]);
    const many = 2000;
    const per = (threshold) => {
      core.setOrtMinFlops(threshold);
      for (let i = 0; i < 200; i++) tf.dispose(tf.matMul(a, b));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < many; i++) tf.dispose(tf.matMul(a, b));
      return Number(process.hrtime.bigint() - t0) / 1e3 / many;
    };
    const reps = [1, 2, 3].map(() => [per(Infinity), per(0)]);
    const wasmUs = median(reps.map((r) => r[0]));
    const ortUs = median(reps.map((r) => r[1]));
    const workerUs = workerRoundTripUs(500);
    core.setOrtMinFlops(core.DEFAULT_ORT_MIN_FLOPS);
    tf.dispose([a, b]);
    results.overhead = { wasm_us: wasmUs, ort_us: ortUs, ort_extra_us: ortUs - wasmUs, worker_round_trip_us: workerUs, load: load() };
    out(`per-call overhead, [4,4] x [4,4] matMul through tf.matMul (load ${load()}):`);
    out(`  wasm kernel ${wasmUs.toFixed(1)} us, onnxruntime kernel ${ortUs.toFixed(1)} us (+${(ortUs - wasmUs).toFixed(1)} us per call)`);
    out(`  for comparison, a worker-thread round trip (postMessage + Atomics.wait, 16 floats) ${workerUs.toFixed(1)} us\n`);
  }

  if (o.only.includes('kernels')) {
    const torch = {};
    if (o.torch) for (const t of [1, cores()]) torch[t] = torchKernels(t, o.runs);
    const rows = [];
    for (const k of KERNELS) {
      const row = { kernel: k.name };
      core.setOrtMinFlops(Infinity);
      const wf = kernelFn(tf, core, k, false);
      row.wasm_ms = time(tf, wf.fn, o.runs);
      wf.dispose();
      core.setOrtMinFlops(0);
      for (const t of o.threads) {
        core.setOrtThreads(t);
        const of = kernelFn(tf, core, k, true);
        row[`ort_${t}t_ms`] = time(tf, of.fn, o.runs);
        of.dispose();
      }
      // Both formulations at the last thread count: Conv/ConvTranspose-op graphs vs patches + Gemm.
      const tl = o.threads[o.threads.length - 1];
      for (const m of ['conv', 'patches']) {
        const col = `ort_${tl}t_${m}_ms`;
        if (k.kind !== 'fwd' && k.kind !== 'dw') {
          row[col] = null;
          continue;
        }
        core.setOrtThreads(tl);
        if (k.kind === 'fwd') core.setOrtConvMethod(m);
        else core.setOrtFilterGradMethod(m);
        const cf = kernelFn(tf, core, k, true);
        row[col] = time(tf, cf.fn, o.runs);
        cf.dispose();
        core.setOrtConvMethod('conv');
        core.setOrtFilterGradMethod('conv');
      }
      for (const t of Object.keys(torch)) row[`torch_${t}t_ms`] = typeof torch[t] === 'string' ? null : torch[t][k.name];
      row.load = load();
      rows.push(row);
      if (o.json) console.log(JSON.stringify(row));
    }
    core.setOrtMinFlops(core.DEFAULT_ORT_MIN_FLOPS);
    core.setOrtThreads(core.defaultOrtThreads());
    for (const t of Object.keys(torch)) if (typeof torch[t] === 'string') out(`torch ${t} threads: ${torch[t]}`);
    results.kernels = rows;
    if (!o.json) printTable(rows);
  }

  if (o.only.includes('crossover')) {
    out('\ncrossover (ms, median; onnxruntime at the default thread count):');
    const rows = [];
    const cases = [];
    for (const n of [16, 32, 64, 128, 256])
      cases.push({
        label: `matMul [${n},${n}]x[${n},${n}]`,
        flops: 2 * n ** 3,
        make: () => [tf.randomNormal([n, n]), tf.randomNormal([n, n])],
        f: (a, b) => tf.matMul(a, b),
      });
    for (const [n, c] of [
      [1, 16],
      [8, 16],
      [8, 32],
      [32, 32],
      [32, 64],
    ]) {
      cases.push({
        label: `conv [${n},14,14,${c}]*[3,3,${c},${c}]`,
        flops: 2 * n * 14 * 14 * c * 9 * c,
        make: () => [tf.randomNormal([n, 14, 14, c]), tf.randomNormal([3, 3, c, c])],
        f: (x, w) => tf.conv2d(x, w, 1, 'same'),
      });
    }
    for (const c of cases) {
      const ins = c.make();
      core.setOrtMinFlops(Infinity);
      const wasmMs = time(tf, () => c.f(...ins), o.runs * 4);
      core.setOrtMinFlops(0);
      const ortMs = time(tf, () => c.f(...ins), o.runs * 4);
      tf.dispose(ins);
      rows.push({ case: c.label, mflops: +(c.flops / 1e6).toFixed(2), wasm_ms: wasmMs, ort_ms: ortMs, load: load() });
      if (o.json) console.log(JSON.stringify(rows[rows.length - 1]));
    }
    core.setOrtMinFlops(core.DEFAULT_ORT_MIN_FLOPS);
    results.crossover = rows;
    if (!o.json) printTable(rows);
  }
}

function printTable(rows) {
  const cols = Object.keys(rows[0]);
  const fmt = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v));
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals) => vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(cols));
  for (const c of cells) console.log(line(c));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
