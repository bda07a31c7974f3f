#!/usr/bin/env node
'use strict';
/**
 * Tightness and soundness of the bound methods on a trained cnn-small (built packages).
 *
 *   node tools/bench/bound-gap.cjs [--model DIR] [--train] [--points 200] [--eps 0.1,0.02]
 *                                  [--full-points 20] [--samples 64] [--backend wasm] [--json]
 *
 * The model is DIR (default runs/standard-mnist/models/student when it exists); with --train,
 * or when there is none, a cnn-small is trained for one MNIST epoch with the pipeline's
 * trainStep and the 'standard' loss. For the first `points` MNIST test images and each eps,
 * it prints per method (ibp, crown-ibp, crown, alpha-crown) the mean over points of the
 * margin lower bound min_j (C f)(x)_j over the box (spec rows e_y - e_j), the mean gap to
 * IBP, the fraction certified, and checks that C f at `samples` random points of every box
 * (plus the box centre) lies inside each method's [lower, upper]. Full CROWN and alpha-CROWN
 * (a backward pass per unstable neuron, seconds per point on wasm) run on the first
 * --full-points points.
 */
require('reflect-metadata');
const fs = require('node:fs');
const path = require('node:path');

const METHODS = ['ibp', 'crown-ibp', 'crown', 'alpha-crown'];
/** Methods with a backward pass per unstable neuron (seconds per point on wasm): run on the first --full-points points. */
const FULL = new Set(['crown', 'alpha-crown']);

function parseArgs(argv) {
  const def = path.resolve(__dirname, '../../runs/standard-mnist/models/student');
  const o = {
    model: fs.existsSync(path.join(def, 'model.json')) ? def : undefined,
    train: false,
    points: 200,
    fullPoints: 20,
    eps: [0.1, 0.02],
    samples: 64,
    backend: 'wasm',
    json: false,
    chunk: 50,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (argv[i + 1] === undefined) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--model') o.model = val();
    else if (a === '--train') o.train = true;
    else if (a === '--points') o.points = Number(val());
    else if (a === '--full-points') o.fullPoints = Number(val());
    else if (a === '--eps') o.eps = val().split(',').map(Number);
    else if (a === '--samples') o.samples = Number(val());
    else if (a === '--backend') o.backend = val();
    else if (a === '--json') o.json = true;
    else fail(`unknown option '${a}'`);
  }
  if (!Number.isInteger(o.points) || o.points < 1 || o.points > 10000) fail(`--points must be an integer in [1, 10000], got ${o.points}`);
  if (!Number.isInteger(o.fullPoints) || o.fullPoints < 1) fail(`--full-points must be a positive integer, got ${o.fullPoints}`);
  o.fullPoints = Math.min(o.fullPoints, o.points);
  if (!Number.isInteger(o.samples) || o.samples < 0) fail(`--samples must be an integer >= 0, got ${o.samples}`);
  if (o.eps.some((e) => !(e >= 0))) fail(`--eps must be a comma list of numbers >= 0`);
  return o;
}

function fail(msg) {
  console.error(`bound-gap: ${msg}`);
  process.exit(2);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const core = require('@certkd/core');
  const { tf, SeededRng, loadBackend, loadModel } = core;
  const bounds = require('@certkd/bounds');
  const { loadMnist } = require('@certkd/datasets');
  await loadBackend(o.backend);
  const data = loadMnist();
  const say = (s) => {
    if (!o.json) console.log(s);
  };

  let net;
  if (o.model && !o.train) {
    net = loadModel(o.model).network;
    say(`model: ${o.model}`);
  } else {
    net = trainOneEpoch(core, data, say);
  }

  const idx = Array.from({ length: o.points }, (_, i) => i);
  const { x: xs, y: ys } = data.test.read(idx);
  const xAll = tf.tensor4d(xs, [o.points, 28, 28, 1]);
  const yAll = tf.tensor1d(ys, 'int32');
  const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(net.predict(xAll), 1), yAll), 'float32')).dataSync()[0]);
  say(`clean accuracy on the ${o.points} points: ${(acc * 100).toFixed(1)}%`);
  const methods = Object.fromEntries(METHODS.map((m) => [m, bounds.createBoundMethod(m)]));
  const rng = new SeededRng(11);

  for (const eps of o.eps) {
    const margins = Object.fromEntries(METHODS.map((m) => [m, []]));
    const times = Object.fromEntries(METHODS.map((m) => [m, 0]));
    const violations = Object.fromEntries(METHODS.map((m) => [m, 0]));
    let checked = 0;
    for (let s0 = 0; s0 < o.points; s0 += o.chunk) {
      const n = Math.min(o.chunk, o.points - s0);
      const x = tf.slice(xAll, [s0, 0, 0, 0], [n, 28, 28, 1]);
      const y = tf.slice(yAll, [s0], [n]);
      const spec = bounds.specMatrix(y, 10);
      const box = bounds.boxAround(x, eps);
      // C f at random points of each box (and the centre clipped into it): [S, n, 9].
      const sampled = tf.tidy(() => {
        const outs = [applySpec(tf, spec, net.predict(x))];
        for (let k = 0; k < o.samples; k++) {
          const u = tf.randomUniform(x.shape, 0, 1, 'float32', rng.nextSeed());
          // Half of the samples on vertices of the box (where ReLU networks attain extremes more often).
          const t = k % 2 === 0 ? u : tf.round(u);
          const p = tf.add(box.lower, tf.mul(tf.sub(box.upper, box.lower), t));
          outs.push(applySpec(tf, spec, net.predict(p)));
        }
        return tf.stack(outs);
      });
      const sv = sampled.arraySync();
      for (const m of METHODS) {
        if (FULL.has(m) && s0 >= o.fullPoints) continue;
        const k = FULL.has(m) ? Math.min(n, o.fullPoints - s0) : n;
        const part =
          k < n
            ? {
                box: { lower: tf.slice(box.lower, [0, 0, 0, 0], [k, 28, 28, 1]), upper: tf.slice(box.upper, [0, 0, 0, 0], [k, 28, 28, 1]) },
                spec: tf.slice(spec, [0, 0, 0], [k, 9, 10]),
              }
            : { box, spec };
        const t0 = Date.now();
        const b = methods[m].compute(net, part.box, { spec: part.spec });
        const lo = b.lower.arraySync();
        const hi = b.upper.arraySync();
        times[m] += Date.now() - t0;
        tf.dispose([b.lower, b.upper]);
        if (k < n) tf.dispose([part.box.lower, part.box.upper, part.spec]);
        for (let i = 0; i < k; i++) {
          margins[m].push(Math.min(...lo[i]));
          for (const s of sv) {
            for (let j = 0; j < 9; j++) {
              const tol = 1e-4 * (1 + Math.abs(s[i][j]));
              if (s[i][j] < lo[i][j] - tol || s[i][j] > hi[i][j] + tol) violations[m]++;
            }
          }
        }
      }
      checked += n * sv.length * 9;
      if (!o.json) process.stderr.write(`eps ${eps}: ${s0 + n}/${o.points} points\n`);
      tf.dispose([x, y, spec, box.lower, box.upper, sampled]);
    }
    const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
    const rows = METHODS.map((m) => ({
      eps,
      method: m,
      points: margins[m].length,
      mean_margin_lb: round(mean(margins[m])),
      mean_gap_vs_ibp: round(mean(margins[m].map((v, i) => v - margins.ibp[i]))),
      certified: round(margins[m].filter((v) => v > 0).length / margins[m].length, 3),
      ms_per_point: round(times[m] / margins[m].length, 2),
      violations: violations[m],
      checked: Math.round((checked * margins[m].length) / o.points),
    }));
    if (o.json) rows.forEach((r) => console.log(JSON.stringify(r)));
    else {
      console.log(
        `\neps ${eps}: ${o.points} points (crown, alpha-crown: the first ${o.fullPoints}), ${o.samples} samples + centre per point; gap vs ibp on the same points`,
      );
      console.log(
        `${'method'.padEnd(12)} ${'points'.padStart(6)} ${'mean margin lb'.padStart(15)} ${'gap vs ibp'.padStart(11)} ${'certified'.padStart(10)} ${'ms/point'.padStart(9)} ${'violations'.padStart(11)}`,
      );
      for (const r of rows) {
        console.log(
          `${r.method.padEnd(12)} ${String(r.points).padStart(6)} ${String(r.mean_margin_lb).padStart(15)} ${String(r.mean_gap_vs_ibp).padStart(11)} ${String(r.certified).padStart(10)} ${String(r.ms_per_point).padStart(9)} ${String(r.violations).padStart(11)}`,
        );
      }
    }
    if (METHODS.some((m) => violations[m] > 0)) process.exitCode = 1;
  }
  tf.dispose([xAll, yAll]);
  net.dispose();
}

/** C f: [n, 9] from spec [n, 9, 10] and logits [n, 10]. */
function applySpec(tf, spec, logits) {
  return tf.squeeze(tf.matMul(spec, tf.expandDims(logits, 2)), [2]);
}

function trainOneEpoch(core, data, say) {
  const { tf, Network, SeededRng, Adam, ARCHITECTURES, architectureOptions } = core;
  const { StandardLoss, standardLossOptions } = require('@certkd/certified-losses');
  const { trainStep } = require('@certkd/pipeline');
  const spec = ARCHITECTURES.find((b) => b.name === 'cnn-small').build(data.input, architectureOptions.parse({}));
  const net = Network.create(spec, new SeededRng(0));
  const loss = new StandardLoss(standardLossOptions.parse({}));
  const vars = net.trainableVariables();
  const adam = new Adam(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  const rng = new SeededRng(1);
  const size = data.train.size;
  const order = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const batch = 128;
  const steps = Math.ceil(size / batch);
  const t0 = Date.now();
  let last = 0;
  for (let s = 0; s < steps; s++) {
    const idx = order.slice(s * batch, (s + 1) * batch);
    const { x: xs, y: ys } = data.train.read(idx);
    const x = tf.tensor4d(xs, [idx.length, 28, 28, 1]);
    const y = tf.tensor1d(ys, 'int32');
    const out = trainStep({ net, loss, adam, vars, x, y, eps: 0, epsMax: 0, rng, progress: { epoch: 0, step: s, fraction: s / steps }, lr: 1e-3, gradClip: 0 });
    last = out.loss;
    tf.dispose([x, y]);
  }
  adam.dispose();
  say(`trained cnn-small for 1 MNIST epoch (${steps} steps, ${((Date.now() - t0) / 1000).toFixed(1)} s, last loss ${last.toFixed(3)})`);
  return net;
}

const round = (v, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
