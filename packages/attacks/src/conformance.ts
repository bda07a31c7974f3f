import * as tf from '@tensorflow/tfjs-core';
import { disposeBox, linfBox, Network, SeededRng, type Attack, type InputBox, type NetworkSpec } from '@certkd/core';
import { lossAt } from './objective';

/** A small network, batch and box that every attack is checked on. */
export interface AttackFixture {
  net: Network;
  x: tf.Tensor;
  y: tf.Tensor1D;
  box: InputBox;
  eps: number;
  dispose(): void;
}

/**
 * A seeded fixture: normalize + dense/BatchNorm/ReLU MLP on 4x4x1 images (BatchNorm with
 * non-trivial running statistics, so a train-mode forward would be visible), eps = 0.1.
 */
export function createAttackFixture(seed = 1, batch = 8): AttackFixture {
  const rng = new SeededRng(seed);
  const spec: NetworkSpec = {
    inputShape: [4, 4, 1],
    layers: [
      { kind: 'normalize', mean: [0.5], std: [0.25] },
      { kind: 'flatten' },
      { kind: 'dense', units: 12, useBias: true },
      { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
      { kind: 'relu' },
      { kind: 'dense', units: 3, useBias: true },
    ],
  };
  const net = Network.create(spec, rng);
  tf.tidy(() => {
    net.param(3, 'movingMean').assign(tf.randomUniform([12], -0.5, 0.5, 'float32', rng.nextSeed()));
    net.param(3, 'movingVariance').assign(tf.randomUniform([12], 0.5, 2, 'float32', rng.nextSeed()));
  });
  const x = tf.randomUniform([batch, 4, 4, 1], 0, 1, 'float32', rng.nextSeed());
  const y = tf.tensor1d(
    Array.from({ length: batch }, () => rng.int(3)),
    'int32',
  );
  const eps = 0.1;
  const box = linfBox(x, eps);
  return {
    net,
    x,
    y,
    box,
    eps,
    dispose() {
      net.dispose();
      x.dispose();
      y.dispose();
      disposeBox(box);
    },
  };
}

export interface AttackConformanceCheck {
  name: string;
  /** Throws an Error describing the violation. */
  check(attack: Attack, fx: AttackFixture): void;
}

function fail(attack: Attack, msg: string): never {
  throw new Error(`attack '${attack.name}': ${msg}`);
}

function snapshot(net: Network): Map<string, Float32Array> {
  return new Map(net.namedParams().map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
}

/**
 * The contract every registered attack must satisfy (one shared suite, looped over the
 * registry from a spec file): outputs in the box, loss at least the clean loss on average,
 * reported loss = loss at the returned point, no tensor leaks, weights untouched,
 * same seed -> same result.
 */
export const ATTACK_CONFORMANCE_CHECKS: readonly AttackConformanceCheck[] = [
  {
    name: 'returns inputs inside the box with the input shape',
    check(attack, fx) {
      const res = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(3));
      try {
        if (res.x.shape.join() !== fx.x.shape.join()) fail(attack, `output shape [${res.x.shape}] != input shape [${fx.x.shape}]`);
        if (res.loss.shape.join() !== String(fx.x.shape[0])) fail(attack, `loss shape [${res.loss.shape}] is not [${fx.x.shape[0]}]`);
        const [below, above] = tf.tidy(() => [tf.max(tf.sub(fx.box.lower, res.x)).dataSync()[0], tf.max(tf.sub(res.x, fx.box.upper)).dataSync()[0]]);
        if (below > 1e-6 || above > 1e-6) fail(attack, `output leaves the box by ${Math.max(below, above)}`);
      } finally {
        res.x.dispose();
        res.loss.dispose();
      }
    },
  },
  {
    name: 'reports the loss at the returned inputs, and it is at least the clean loss on average',
    check(attack, fx) {
      const res = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(4));
      try {
        const at = lossAt(fx.net, res.x, fx.y);
        const clean = lossAt(fx.net, fx.x, fx.y);
        const reported = Array.from(res.loss.dataSync());
        const actual = Array.from(at.dataSync());
        const cleanMean = tf.tidy(() => tf.mean(clean).dataSync()[0]);
        at.dispose();
        clean.dispose();
        reported.forEach((r, i) => {
          if (!(Math.abs(r - actual[i]) <= 1e-4 * Math.max(1, Math.abs(actual[i]))))
            fail(attack, `sample ${i}: reported loss ${r} but the returned input has loss ${actual[i]}`);
        });
        const mean = actual.reduce((a, b) => a + b, 0) / actual.length;
        if (!(mean >= cleanMean - 1e-6)) fail(attack, `mean adversarial loss ${mean} < clean loss ${cleanMean}`);
      } finally {
        res.x.dispose();
        res.loss.dispose();
      }
    },
  },
  {
    name: 'leaks no tensors',
    check(attack, fx) {
      const before = tf.memory().numTensors;
      const res = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(5));
      res.x.dispose();
      res.loss.dispose();
      const after = tf.memory().numTensors;
      if (after !== before) fail(attack, `${after - before} tensors leaked`);
    },
  },
  {
    name: 'changes no parameter (weights and BatchNorm running statistics)',
    check(attack, fx) {
      const before = snapshot(fx.net);
      const res = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(6));
      res.x.dispose();
      res.loss.dispose();
      for (const [k, v] of snapshot(fx.net)) {
        const old = before.get(k) as Float32Array;
        if (v.some((a, i) => a !== old[i])) fail(attack, `parameter ${k} changed`);
      }
    },
  },
  {
    name: 'is deterministic for a given seed',
    check(attack, fx) {
      const a = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(7));
      const b = attack.run(fx.net, fx.x, fx.y, fx.box, new SeededRng(7));
      const xa = a.x.dataSync();
      const xb = b.x.dataSync();
      [a.x, a.loss, b.x, b.loss].forEach((t) => t.dispose());
      if (xa.some((v, i) => v !== xb[i])) fail(attack, 'two runs with the same seed differ');
    },
  },
];

/** Run every conformance check on one attack; throws on the first violation. */
export function checkAttackConformance(attack: Attack, fx: AttackFixture): void {
  for (const c of ATTACK_CONFORMANCE_CHECKS) c.check(attack, fx);
}
