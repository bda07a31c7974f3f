import * as tf from '@tensorflow/tfjs-core';
import { Attack, ConfigError, InputBox, LossContext, TrainingLoss, createPluginContainer, pluginRegistry } from '@certkd/core';
import { epsSchedule, registerCertifiedLosses } from '@certkd/certified-losses';
import { ibp, specMatrix } from '@certkd/bounds';
import { context, disposeContext, fixedTeacher, tinyNet } from './__fixtures__/tiny-net';
import { registerDistillLosses } from './register';

// METHODS 5: the train-eps multiplier scales the IBP box and the attack; the attack-eps factor
// scales the attack only. Rows: the reference's settings for each benchmark.
const TABLE = [
  { benchmark: 'MNIST 0.1', eps: 0.1, trainEpsMul: 2.0, attackEpsFactor: 1, start: 1, ramp: 20 },
  { benchmark: 'MNIST 0.3', eps: 0.3, trainEpsMul: 1.334, attackEpsFactor: 1, start: 1, ramp: 20 },
  { benchmark: 'CIFAR-10 2/255', eps: 2 / 255, trainEpsMul: 1, attackEpsFactor: 2.1, start: 2, ramp: 80 },
];
const STEPS_PER_EPOCH = 10;

const registryPlugins = createPluginContainer();
registerCertifiedLosses(registryPlugins);
registerDistillLosses(registryPlugins);
const registry = pluginRegistry(registryPlugins);

/** An attack that records the half-width of the box it was given and returns the box centre. */
function recordingAttack(seen: number[]): Attack {
  return {
    name: 'recording',
    run: (_net, x, _y, box: InputBox) => {
      // Inputs of the fixture lie in [0.1, 0.9]; 0.5 is interior for every radius below 0.4.
      seen.push(tf.tidy(() => tf.max(tf.div(tf.sub(box.upper, box.lower), 2)).dataSync()[0]));
      return { x: tf.clone(x), loss: tf.zeros([x.shape[0]]) as tf.Tensor1D };
    },
  };
}

function parts(loss: TrainingLoss, ctx: LossContext): Record<string, number> {
  return tf.tidy(() => Object.fromEntries(Object.entries(loss.compute(ctx).parts).map(([k, v]) => [k, v.dataSync()[0]])));
}

describe('training radius (METHODS 5): trainEpsMul scales box and attack, attackEpsFactor the attack only', () => {
  const net = tinyNet();
  afterAll(() => net.dispose());

  for (const row of TABLE) {
    for (const [kind, name] of [
      ['certified-loss', 'cc-ibp'],
      ['certified-loss', 'mtl-ibp'],
      ['certified-loss', 'sabr'],
      ['distill-loss', 'cc-dist'],
    ] as const) {
      it(`${row.benchmark}: ${name} reads eps_t from the schedule and trains at the table's box and attack radii`, () => {
        const schedule = epsSchedule({ epsMax: row.eps, startEpoch: row.start, rampEpochs: row.ramp, stepsPerEpoch: STEPS_PER_EPOCH });
        // A step inside the linear part of the ramp, and the end of the ramp.
        for (const step of [(row.start + row.ramp * 0.6) * STEPS_PER_EPOCH, (row.start + row.ramp) * STEPS_PER_EPOCH]) {
          const epsT = schedule(step);
          expect(epsT).toBeGreaterThan(0);
          const seen: number[] = [];
          const before = tf.memory().numTensors;
          const ctx = context(net, epsT, {
            epsMax: row.eps,
            attack: recordingAttack(seen),
            teacher: fixedTeacher([
              [0, 0, 0],
              [0, 0, 0],
              [0, 0, 0],
            ]),
          });
          const loss = registry.create(kind, name, { trainEpsMul: row.trainEpsMul, attackEpsFactor: row.attackEpsFactor });
          const p = parts(loss, ctx);
          const box = row.trainEpsMul * epsT;
          const att = row.attackEpsFactor * box;
          expect(p.box_eps).toBeCloseTo(box, 6);
          expect(p.attack_eps).toBeCloseTo(att, 6);
          // The attack really was given a box of that radius.
          expect(seen).toHaveLength(1);
          expect(seen[0]).toBeCloseTo(att, 5);
          disposeContext(ctx);
          loss.dispose?.();
          expect(tf.memory().numTensors).toBe(before);
        }
      });
    }
  }

  it('the IBP part is the IBP bound at eps_train, not at the scheduled eps', () => {
    const epsT = 0.05;
    const ctx = context(net, epsT, { epsMax: 0.1 });
    const loss = registry.create('certified-loss', 'ibp', { trainEpsMul: 2, regularisers: false });
    const got = parts(loss, ctx).ibp;
    const want = (r: number) =>
      tf.tidy(() => {
        const x = ctx.x;
        const box = { lower: tf.clipByValue(tf.sub(x, r), 0, 1), upper: tf.clipByValue(tf.add(x, r), 0, 1) };
        const zl = ibp(net, box, { spec: specMatrix(ctx.y, 3) }).lower;
        return tf.mean(tf.log(tf.add(1, tf.sum(tf.exp(tf.neg(zl)), 1)))).dataSync()[0];
      });
    expect(got).toBeCloseTo(want(0.1), 5);
    expect(Math.abs(got - want(0.05))).toBeGreaterThan(1e-3);
    disposeContext(ctx);
  });

  it('radius parts are reported, not added to the total', () => {
    const ctx = context(net, 0.1, {
      epsMax: 0.1,
      teacher: fixedTeacher([
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ]),
    });
    const loss = registry.create('distill-loss', 'cc-dist', { trainEpsMul: 2, beta: 0.1 });
    const [total, sum] = tf.tidy(() => {
      const out = loss.compute(ctx);
      const terms = Object.entries(out.parts).filter(([k]) => k !== 'box_eps' && k !== 'attack_eps');
      return [out.total.dataSync()[0], terms.reduce((s, [, v]) => s + v.dataSync()[0], 0)];
    });
    expect(total).toBeCloseTo(sum, 5);
    disposeContext(ctx);
  });

  it.each([
    ['certified-loss', 'cc-ibp'],
    ['certified-loss', 'ibp'],
    ['distill-loss', 'cc-dist'],
    ['distill-loss', 'ad-cert'],
  ] as const)('the removed trainEpsFactor is refused by %s %s with a message naming both replacements', (kind, name) => {
    let err: unknown;
    try {
      registry.create(kind, name, { trainEpsFactor: 2 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/trainEpsFactor was removed.*trainEpsMul.*attackEpsFactor/);
    expect((err as ConfigError).field).toMatch(/trainEpsFactor$/);
  });
});
