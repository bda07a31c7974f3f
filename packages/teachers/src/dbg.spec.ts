import * as tf from '@tensorflow/tfjs-core';
import { Adam, Network, SeededRng, type NetworkSpec } from '@certkd/core';
import { PgdAtLoss } from './pgd-at';

it('dbg', () => {
  const d = 16; const rng = new SeededRng(42);
  const n = 128; const xs = new Float32Array(n * d); const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) { ys[i] = i % 2; const sgn = ys[i] ? 1 : -1;
    for (let j = 0; j < d; j++) { const v = j === 0 ? 0.5 + sgn * 0.25 + 0.05 * rng.normal() : 0.5 + sgn * 0.05 + 0.1 * rng.normal(); xs[i * d + j] = Math.min(1, Math.max(0, v)); } }
  const x = tf.tensor2d(xs, [n, d]); const y = tf.tensor1d(ys, 'int32');
  const spec: NetworkSpec = { inputShape: [d], layers: [{ kind: 'dense', units: 16, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 2, useBias: true }] };
  const net = Network.create(spec, new SeededRng(7));
  const vars = net.trainableVariables(); const opt = new Adam(vars); const loss = new PgdAtLoss({ steps: 3, stepSize: 0.5 });
  const r = new SeededRng(8);
  for (let s = 0; s < 60; s++) {
    const { value, grads } = tf.variableGrads(() => loss.compute({ net, x, y, eps: 0.1 * Math.min(1, s / 30), epsMax: 0.1, rng: r, progress: { epoch: 0, step: s, fraction: 0 } }).total, vars);
    if (s % 10 === 0) console.log(s, value.dataSync()[0], vars.map((v) => tf.norm(grads[v.name]).dataSync()[0].toFixed(4)).join(' '));
    opt.apply(vars.map((v) => grads[v.name]), 0.01); value.dispose(); tf.dispose(grads);
  }
});
