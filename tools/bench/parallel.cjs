#!/usr/bin/env node
/**
 * Data-parallel training speed: one epoch (or --steps N) of cnn-small CC-Dist training on real
 * MNIST batches, in-process and with 1..W workers, same initial state and data order. Prints
 * seconds per epoch, the ratio to in-process training, and the largest relative difference of
 * the batch losses from the in-process run.
 *
 *   node tools/bench/parallel.cjs [--workers 2] [--steps 469] [--loss cc-dist|cc-ibp|standard] [--batch 128] [--backend wasm|onnxruntime] [--json]
 *
 * --workers 0 measures in-process only (e.g. --backend onnxruntime, whose kernels use every core).
 *
 * Runs on the built packages (npm run build). The machine should be otherwise idle.
 */
require('reflect-metadata');
const os = require('node:os');

function parseArgs(argv) {
  const o = { workers: [2], steps: 0, loss: 'cc-dist', batch: 128, json: false, backend: 'wasm' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--workers')
      o.workers = argv[++i]
        .split(',')
        .map(Number)
        .filter((w) => w > 0);
    else if (a === '--backend') o.backend = argv[++i];
    else if (a === '--steps') o.steps = Number(argv[++i]);
    else if (a === '--loss') o.loss = argv[++i];
    else if (a === '--batch') o.batch = Number(argv[++i]);
    else if (a === '--json') o.json = true;
    else {
      console.error(
        'usage: node tools/bench/parallel.cjs [--workers 2[,3]] [--steps N] [--loss cc-dist|cc-ibp|standard] [--batch 128] [--backend wasm|onnxruntime] [--json]',
      );
      process.exit(2);
    }
  }
  return o;
}

const LOSSES = {
  'cc-dist': { kind: 'distill-loss', name: 'cc-dist', options: { alpha: 0.1, trainEpsMul: 2, l1: 2e-6 } },
  'cc-ibp': { kind: 'certified-loss', name: 'cc-ibp', options: { alpha: 0.1, trainEpsMul: 2, l1: 2e-6 } },
  standard: { kind: 'certified-loss', name: 'standard', options: {} },
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { tf, Network, SeededRng, Adam, ARCHITECTURES, architectureOptions, loadBackend } = require('@certkd/core');
  const { NetworkTeacher } = require('@certkd/teachers');
  const { trainStep, ParallelTrainer, createRegistry } = require('@certkd/pipeline');
  const { loadMnist } = require('@certkd/datasets');
  const backend = await loadBackend(o.backend);
  const lossRef = LOSSES[o.loss];
  if (!lossRef) throw new Error(`unknown --loss ${o.loss}`);
  const data = loadMnist();
  const train = data.train;
  const n = train.size;
  const stepsPerEpoch = Math.floor(n / o.batch);
  const steps = o.steps > 0 ? Math.min(o.steps, stepsPerEpoch) : stepsPerEpoch;
  const perm = new SeededRng(1).permutation(n);
  const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small').build(data.input, architectureOptions.parse({}));
  const say = (s) => o.json || console.log(s);
  say(
    `backend ${backend.name} (${backend.detail}); ${os.availableParallelism()} cores; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  say(`cnn-small ${o.loss}, batch ${o.batch}, ${steps} steps (${steps === stepsPerEpoch ? 'one epoch' : 'part of an epoch'})`);

  const fresh = () => {
    const net = Network.create(spec, new SeededRng(0), 'ibp');
    const teacher = o.loss === 'cc-dist' ? new NetworkTeacher(Network.create(spec, new SeededRng(1)), 'teacher') : undefined;
    const loss = createRegistry().create(lossRef.kind, lossRef.name, lossRef.options);
    loss.prepare?.(net, teacher, new SeededRng(2));
    const extras = loss.variables?.() ?? [];
    const adamConfig = { lr: 5e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const adam = new Adam([...net.trainableVariables(), ...extras], adamConfig);
    return { net, teacher, loss, extras, adam, adamConfig };
  };
  const batchAt = (b) => train.read(perm.subarray(b * o.batch, (b + 1) * o.batch));
  const args = (b) => ({ eps: 0.05, epsMax: 0.1, progress: { epoch: 1, step: b, fraction: b / steps }, lr: 5e-4, gradClip: 10 });

  const rows = [];
  // In-process.
  {
    const s = fresh();
    const vars = [...s.net.trainableVariables(), ...s.extras];
    const rng = new SeededRng(3);
    const losses = [];
    const t0 = performance.now();
    for (let b = 0; b < steps; b++) {
      const { x, y } = batchAt(b);
      const xt = tf.tensor4d(x, [o.batch, ...data.input.shape]);
      const yt = tf.tensor1d(y, 'int32');
      losses.push(trainStep({ net: s.net, loss: s.loss, adam: s.adam, vars, x: xt, y: yt, rng: rng.fork(), teacher: s.teacher, ...args(b) }).loss);
      tf.dispose([xt, yt]);
    }
    const secs = (performance.now() - t0) / 1000;
    rows.push({ workers: 1, mode: 'in-process', seconds: secs, ratio: 1, max_rel_loss_diff: 0, losses });
  }
  for (const w of o.workers) {
    const s = fresh();
    const t0 = performance.now();
    const trainer = await ParallelTrainer.start({
      workers: w,
      backend: backend.name,
      plugins: [],
      baseDir: process.cwd(),
      net: s.net,
      loss: lossRef,
      teacher: s.teacher,
      prepareSeed: 2,
      extras: s.extras,
      adam: s.adam,
      adamConfig: s.adamConfig,
    });
    const startS = (performance.now() - t0) / 1000;
    const rng = new SeededRng(3);
    const losses = [];
    const t1 = performance.now();
    // One step of look-ahead, as the train stage does: the next batch is sent before the current step ends.
    const submit = (b) => {
      const { x, y } = batchAt(b);
      return trainer.step({ x, shape: [o.batch, ...data.input.shape], y, rng: rng.fork(), ...args(b) });
    };
    let next = submit(0);
    for (let b = 0; b < steps; b++) {
      const cur = next;
      if (b + 1 < steps) next = submit(b + 1);
      losses.push((await cur).loss);
    }
    await trainer.pull();
    const secs = (performance.now() - t1) / 1000 + startS;
    await trainer.close();
    const ref = rows[0].losses;
    const diff = Math.max(...losses.map((l, i) => Math.abs(l - ref[i]) / Math.max(Math.abs(ref[i]), 1e-12)));
    rows.push({
      workers: w,
      mode: 'worker threads',
      seconds: secs,
      start_s: startS,
      ratio: secs / rows[0].seconds,
      max_rel_loss_diff: diff,
      first_step_rel_diff: Math.abs(losses[0] - ref[0]) / Math.abs(ref[0]),
      losses,
    });
  }
  for (const r of rows) {
    const { losses, ...rest } = r;
    if (o.json) console.log(JSON.stringify({ arch: 'cnn-small', loss: o.loss, batch: o.batch, steps, ...rest }));
    else
      console.log(
        `${String(r.workers).padStart(2)} ${r.mode.padEnd(15)} ${r.seconds.toFixed(1).padStart(7)} s  ratio ${r.ratio.toFixed(3)}` +
          (r.workers > 1 || r.mode !== 'in-process'
            ? `  (start ${r.start_s.toFixed(1)} s; first-step loss diff ${r.first_step_rel_diff.toExponential(1)}, max over steps ${r.max_rel_loss_diff.toExponential(1)})`
            : ''),
      );
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
