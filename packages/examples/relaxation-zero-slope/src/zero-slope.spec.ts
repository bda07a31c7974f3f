import * as tf from '@tensorflow/tfjs-core';
import { createPluginContainer, pluginRegistry } from '@certkd/core';
import { boxAround, buildConformanceNetwork, registerBounds, runRelaxationConformance } from '@certkd/bounds';
import { ZeroSlopeRelu, register } from './index';

runRelaxationConformance('zero-slope relaxation (third-party)', { relaxations: [new ZeroSlopeRelu()] });

describe('zero-slope through the registry', () => {
  it('replaces the default ReLU relaxation in a bound method', () => {
    const plugins = createPluginContainer();
    registerBounds(plugins);
    register(plugins);
    const registry = pluginRegistry(plugins);
    expect(registry.names('relaxation')).toContain('zero-slope');
    const c = buildConformanceNetwork('mlp-deep', 4);
    const x = tf.randomUniform([4, 4], 0, 1, 'float32', 8);
    const box = boxAround(x, 0.25);
    const std = registry.create('bound-method', 'crown-ibp').compute(c.net, box);
    const zero = registry.create('bound-method', 'crown-ibp', { relaxations: { relu: 'zero-slope' } }).compute(c.net, box);
    // Same sound method, different lower lines: the bounds must differ somewhere.
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(std.lower, zero.lower))).dataSync()[0]);
    expect(diff).toBeGreaterThan(1e-4);
    tf.dispose([x, box.lower, box.upper, std.lower, std.upper, zero.lower, zero.upper]);
    c.dispose();
  });
});
