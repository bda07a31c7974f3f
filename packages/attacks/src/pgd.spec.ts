import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, disposeBox, linfBox, Network, SeededRng, type NetworkSpec } from '@certkd/core';
import { ApgdCe, apgdCheckpoints } from './apgd';
import { Fgsm } from './fgsm';
import { lossAt } from './objective';
import { Pgd, scheduledStep } from './pgd';

/** Two-class linear model z = W^T x + b on [0,1]^d with fixed weights. */
function linearModel(w: number[][], b: number[]): Network {
  const d = w.length;
  const spec: NetworkSpec = { inputShape: [d], layers: [{ kind: 'dense', units: 2, useBias: true }] };
  return Network.fromTensors(
    spec,
    new Map<string, tf.Tensor>([
      ['layers.0.kernel', tf.tensor2d(w)],
      ['layers.0.bias', tf.tensor1d(b)],
    ]),
  );
}

describe('attacks on a linear model (closed-form worst case)', () => {
  // CE of label y is decreasing in the margin (w_y - w_o) . x, so the worst point of the box
  // sits at the lower bound where w_y - w_o > 0 and at the upper bound where it is < 0.
  const w = [
    [1.5, -0.5],
    [-2, 1],
    [0.3, 0.9],
    [0.7, -0.2],
  ];
  let net: Network;
  let x: tf.Tensor2D;
  let y: tf.Tensor1D;
  let expected: Float32Array;
  const eps = 0.2;
  beforeAll(() => {
    net = linearModel(w, [0.1, -0.1]);
    x = tf.tensor2d([
      [0.5, 0.1, 0.9, 0.3],
      [0.95, 0.5, 0.05, 0.6],
    ]);
    y = tf.tensor1d([0, 1], 'int32');
    const xs = x.arraySync();
    const ys = [0, 1];
    expected = Float32Array.from(
      xs.flatMap((row, i) =>
        row.map((v, j) => {
          const dir = w[j][ys[i]] - w[j][1 - ys[i]];
          return dir > 0 ? Math.max(0, v - eps) : Math.min(1, v + eps);
        }),
      ),
    );
  });
  afterAll(() => {
    net.dispose();
    x.dispose();
    y.dispose();
  });

  const cases: [string, () => Fgsm | Pgd | ApgdCe][] = [
    ['pgd', () => new Pgd({ steps: 20, stepSize: 0.25 })],
    ['pgd with restarts and step decay', () => new Pgd({ steps: 20, stepSize: 0.5, restarts: 3, schedule: 'step-decay' })],
    ['fgsm', () => new Fgsm()],
    ['apgd-ce', () => new ApgdCe({ steps: 20 })],
  ];
  for (const [label, make] of cases) {
    it(`${label} finds the worst vertex of the (clipped) box`, () => {
      const box = linfBox(x, eps);
      const res = make().run(net, x, y, box, new SeededRng(9));
      const got = res.x.dataSync();
      expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
      const worst = lossAt(net, tf.tensor2d(expected, x.shape), y);
      expect(Array.from(res.loss.dataSync())).toEqual(Array.from(worst.dataSync()).map((v) => expect.closeTo(v, 5)));
      [res.x, res.loss, worst].forEach((t) => t.dispose());
      disposeBox(box);
    });
  }

  it('PGD with a tiny step keeps the best iterate, never a worse later one', () => {
    const box = linfBox(x, eps);
    const clean = lossAt(net, x, y);
    const res = new Pgd({ steps: 3, stepSize: 0.01, randomStart: false }).run(net, x, y, box, new SeededRng(1));
    const l = res.loss.dataSync();
    const c = clean.dataSync();
    l.forEach((v, i) => expect(v).toBeGreaterThan(c[i]));
    [clean, res.x, res.loss].forEach((t) => t.dispose());
    disposeBox(box);
  });
});

describe('pgd options and schedule', () => {
  it('step-decay multiplies the step at each milestone', () => {
    const o = { stepSize: 1, schedule: 'step-decay' as const, decayFactor: 0.1, decayMilestones: [0.5, 0.75] };
    expect([0, 4, 5, 7, 8, 9].map((k) => scheduledStep(o, k, 10))).toEqual([
      1,
      1,
      expect.closeTo(0.1, 12),
      expect.closeTo(0.1, 12),
      expect.closeTo(0.01, 12),
      expect.closeTo(0.01, 12),
    ]);
    expect(scheduledStep({ ...o, schedule: 'constant' }, 9, 10)).toBe(1);
  });

  it('rejects invalid settings with ConfigError', () => {
    expect(() => new Pgd({ steps: 0 })).toThrow(ConfigError);
    expect(() => new Pgd({ restarts: 1.5 })).toThrow(/restarts/);
    expect(() => new ApgdCe({ steps: 1 })).toThrow(/steps/);
  });

  it('absolute steps move by the given pixel amount', () => {
    const net = linearModel([[1, -1]], [0, 0]);
    const x = tf.tensor2d([[0.5]]);
    const y = tf.tensor1d([0], 'int32');
    const box = linfBox(x, 0.3);
    const res = new Pgd({ steps: 1, stepSize: 0.05, stepMode: 'absolute', randomStart: false }).run(net, x, y, box, new SeededRng(1));
    expect(res.x.dataSync()[0]).toBeCloseTo(0.45, 6);
    [x, y, res.x, res.loss].forEach((t) => t.dispose());
    disposeBox(box);
    net.dispose();
  });

  it('with bnStats the attack forwards in train mode with those statistics', () => {
    const spec: NetworkSpec = {
      inputShape: [2],
      layers: [
        { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
        { kind: 'dense', units: 2, useBias: false },
      ],
    };
    const rng = new SeededRng(2);
    const net = Network.create(spec, rng);
    const x = tf.tensor2d([
      [0.2, 0.7],
      [0.6, 0.1],
    ]);
    const y = tf.tensor1d([0, 1], 'int32');
    const stats = new Map([[0, { mean: tf.tensor1d([3, -3]), variance: tf.tensor1d([0.01, 4]) }]]);
    const box = linfBox(x, 0);
    const res = new Pgd({ steps: 1 }).run(net, x, y, box, rng, { bnStats: stats });
    const withStats = lossAt(net, x, y, { bnStats: stats });
    const evalLoss = lossAt(net, x, y);
    expect(Array.from(res.loss.dataSync())).toEqual(Array.from(withStats.dataSync()));
    expect(Array.from(res.loss.dataSync())).not.toEqual(Array.from(evalLoss.dataSync()));
    [x, y, res.x, res.loss, withStats, evalLoss, stats.get(0)!.mean, stats.get(0)!.variance].forEach((t) => t.dispose());
    disposeBox(box);
    net.dispose();
  });
});

describe('apgd checkpoints', () => {
  it('follow p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)', () => {
    expect(apgdCheckpoints(100)).toEqual([0, 22, 41, 57, 70, 80, 87, 93, 99]);
  });
});
