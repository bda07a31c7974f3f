import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type Attack, createPluginContainer, pluginRegistry } from '@certkd/core';
import { ATTACK_CONFORMANCE_CHECKS, createAttackFixture, registerAttacks, type AttackFixture } from './index';

// Small settings keep the suite quick; everything else is each plugin's default.
const FAST: Record<string, object> = { pgd: { steps: 5 }, 'apgd-ce': { steps: 12 }, fgsm: {} };

const registryPlugins = createPluginContainer();
registerAttacks(registryPlugins);
const registry = pluginRegistry(registryPlugins);

describe('attack conformance', () => {
  let fx: AttackFixture;
  beforeAll(() => (fx = createAttackFixture(11)));
  afterAll(() => fx.dispose());

  it('registers fgsm, pgd and apgd-ce', () => {
    expect(registry.names('attack')).toEqual(['apgd-ce', 'fgsm', 'pgd']);
  });

  for (const name of registry.names('attack')) {
    describe(name, () => {
      const make = (): Attack => registry.create('attack', name, FAST[name] ?? {});
      for (const c of ATTACK_CONFORMANCE_CHECKS) {
        it(c.name, () => c.check(make(), fx));
      }

      it('differentiates w.r.t. the input only (tf.variableGrads is never called)', () => {
        const spy = jest.spyOn(tf, 'variableGrads');
        try {
          const res = make().run(fx.net, fx.x, fx.y, fx.box, new SeededRng(1));
          res.x.dispose();
          res.loss.dispose();
          expect(spy).not.toHaveBeenCalled();
        } finally {
          spy.mockRestore();
        }
      });

      it('returns a result detached from any gradient tape', () => {
        // Inside a training step the outer tape must not reach the weights through the attack.
        const vars = fx.net.trainableVariables();
        const run = () =>
          tf.tidy(() =>
            tf.variableGrads(() => {
              const res = make().run(fx.net, fx.x, fx.y, fx.box, new SeededRng(2));
              return tf.sum(res.x) as tf.Scalar;
            }, vars),
          );
        expect(run).toThrow(/Cannot find a connection between any variable/);
      });

      it('rejects unknown options', () => {
        expect(() => registry.create('attack', name, { bogus: 1 })).toThrow(/attack 'fgsm'|attack 'pgd'|attack 'apgd-ce'/);
      });
    });
  }

  it('the checks catch a broken attack (one that leaves the box)', () => {
    const broken: Attack = {
      name: 'broken',
      run: (_n, x, y) => ({ x: tf.add(x, 0.5), loss: tf.zerosLike(y).toFloat() as tf.Tensor1D }),
    };
    expect(() => ATTACK_CONFORMANCE_CHECKS[0].check(broken, fx)).toThrow(/leaves the box/);
  });
});
