import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng, type Attack } from '@certkd/core';
import { ApgdCe } from './apgd';
import { Pgd } from './pgd';
import { EVAL_PGD_OPTIONS, defaultEvalAttacks, robustAccuracy } from './robust-accuracy';
import { accuracy, blobs, mlpSpec, trainStandard } from './__fixtures__/train';

describe('attacks on a standard-trained MLP (synthetic separable data)', () => {
  const d = 16;
  let net: Network;
  let test: { x: tf.Tensor2D; y: tf.Tensor1D };

  beforeAll(() => {
    const rng = new SeededRng(42);
    const train = blobs(256, d, 0.08, rng);
    test = blobs(200, d, 0.08, rng);
    net = Network.create(mlpSpec(d, 32, 2), rng);
    trainStandard(net, train.x, train.y, 150);
    train.x.dispose();
    train.y.dispose();
  });
  afterAll(() => {
    net.dispose();
    test.x.dispose();
    test.y.dispose();
  });

  it('learns the task', () => {
    expect(accuracy(net, test.x, test.y)).toBeGreaterThan(0.95);
  });

  it('loses most accuracy under PGD at a large eps, and APGD-CE is at least as strong', () => {
    const pgd = new Pgd({ steps: 20, stepSize: 0.1 });
    const apgd = new ApgdCe({ steps: 20 });
    const before = tf.memory().numTensors;
    for (const eps of [0.02, 0.04, 0.1]) {
      const p = robustAccuracy(net, test, eps, [pgd], new SeededRng(1));
      const a = robustAccuracy(net, test, eps, [apgd], new SeededRng(1));
      expect(p.n).toBe(200);
      expect(a.clean_acc).toBe(p.clean_acc);
      expect(a.robust_acc).toBeLessThanOrEqual(p.robust_acc);
      if (eps === 0.1) expect(p.robust_acc).toBeLessThan(0.2 * p.clean_acc);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a point counts robust only if no attack in the list flips it', () => {
    const eps = 0.04;
    const weak: Attack = new Pgd({ steps: 2, stepSize: 0.05, randomStart: false });
    const strong: Attack = new ApgdCe({ steps: 20 });
    const w = robustAccuracy(net, test, eps, [weak], new SeededRng(3));
    const s = robustAccuracy(net, test, eps, [strong], new SeededRng(3));
    const both = robustAccuracy(net, test, eps, [weak, strong], new SeededRng(3));
    expect(both.robust_acc).toBeLessThanOrEqual(Math.min(w.robust_acc, s.robust_acc));
    expect(robustAccuracy(net, test, eps, [], new SeededRng(3)).robust_acc).toBe(w.clean_acc);
  });

  it('accepts an iterable of batches and counts every sample once', () => {
    const halves = [0, 100].map((start) => ({ x: tf.slice(test.x, [start, 0], [100, d]), y: tf.slice(test.y, [start], [100]) as tf.Tensor1D }));
    const attacks = [new Pgd({ ...EVAL_PGD_OPTIONS, steps: 5 })];
    const split = robustAccuracy(net, halves, 0.04, attacks, new SeededRng(4));
    expect(split.n).toBe(200);
    expect(split.clean_acc).toBe(robustAccuracy(net, test, 0, [], new SeededRng(4)).clean_acc);
    halves.forEach((h) => tf.dispose([h.x, h.y]));
  });

  it('default evaluation attacks are PGD-40 (step 0.035 eps) and APGD-CE', () => {
    const [p, a] = defaultEvalAttacks();
    expect(p).toBeInstanceOf(Pgd);
    expect((p as Pgd).options).toMatchObject({ steps: 40, stepSize: 0.035, stepMode: 'relative' });
    expect(a).toBeInstanceOf(ApgdCe);
    expect((a as ApgdCe).options.steps).toBe(100);
  });
});
