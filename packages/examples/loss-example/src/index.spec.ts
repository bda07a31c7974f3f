import * as tf from '@tensorflow/tfjs-core';
import { FeatureTeacher, Network, SeededRng, createPluginContainer, pluginRegistry } from '@certkd/core';
import { register } from './index';

function net(): Network {
  return Network.create(
    {
      inputShape: [4],
      layers: [
        { kind: 'dense', units: 5, useBias: true },
        { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
        { kind: 'relu' },
        { kind: 'tap', name: 'penultimate' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    },
    new SeededRng(1),
  );
}

describe('example loss package', () => {
  it('registers adv-feature-mse, which trains the student and leaves the teacher alone', () => {
    const plugins = createPluginContainer();
    register(plugins);
    const registry = pluginRegistry(plugins);
    expect(registry.names('distill-loss')).toEqual(['adv-feature-mse']);
    const student = net();
    const teacherNet = net();
    const teacher: FeatureTeacher = {
      name: 't',
      featureWidth: 5,
      features: (x) => teacherNet.forward(x, { mode: 'eval', end: 3 }).output as tf.Tensor2D,
      logits: (x) => teacherNet.predict(x),
      dispose: () => teacherNet.dispose(),
    };
    const rng = new SeededRng(4);
    const x = tf.tensor2d(Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => rng.next())));
    const y = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    const loss = registry.create('distill-loss', 'adv-feature-mse', { alpha: 0.5, beta: 0.1 });
    const ctx = { net: student, x, y, eps: 0.05, epsMax: 0.1, rng, progress: { epoch: 0, step: 0, fraction: 0 }, teacher };
    const before = tf.memory().numTensors;
    const vars = [...student.trainableVariables(), ...teacherNet.trainableVariables()];
    const { value, grads } = tf.variableGrads(() => loss.compute(ctx).total, vars);
    expect(Number.isFinite(value.arraySync() as number)).toBe(true);
    for (const v of teacherNet.trainableVariables()) expect(grads[v.name]).toBeUndefined();
    const g = grads[student.param(0, 'kernel').name].dataSync();
    expect(g.some((a) => a !== 0)).toBe(true);
    value.dispose();
    Object.values(grads).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    const parts = tf.tidy(() => {
      const o = loss.compute(ctx);
      return {
        keys: Object.keys(o.parts).sort(),
        total: o.total.arraySync() as number,
        sum: (o.parts['cc-ibp'].arraySync() as number) + (o.parts['feature-mse'].arraySync() as number),
      };
    });
    expect(parts.keys).toEqual(['attack_eps', 'box_eps', 'cc-ibp', 'feature-mse']);
    expect(parts.total).toBeCloseTo(parts.sum, 5);
    x.dispose();
    y.dispose();
    student.dispose();
    teacher.dispose();
  });
});
