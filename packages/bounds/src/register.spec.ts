import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { LAYER_KINDS, createPluginContainer, pluginRegistry } from '@certkd/core';
import { registerBounds, relaxationsFromRegistry } from './register';
import { ReluRelaxation } from './relaxations/activation';
import { buildConformanceNetwork } from './conformance/networks';
import { boundReport } from './report';
import { boxAround, specMatrix } from './box';

class HalfSlopeRelu extends ReluRelaxation {
  override readonly name = 'half-slope';
  override adaptiveSlope(pre: { lower: tf.Tensor }): tf.Tensor {
    return tf.mul(tf.onesLike(pre.lower), 0.5);
  }
}

describe('registerBounds', () => {
  it('registers one relaxation per layer kind and the four bound methods', () => {
    const regPlugins = createPluginContainer();
    registerBounds(regPlugins);
    const reg = pluginRegistry(regPlugins);
    expect(reg.names('relaxation')).toEqual([...LAYER_KINDS].sort());
    expect(reg.names('bound-method')).toEqual(['alpha-crown', 'crown', 'crown-ibp', 'ibp']);
    for (const kind of LAYER_KINDS) expect(reg.create('relaxation', kind).layerKind).toBe(kind);
  });

  it('builds methods from registered relaxations; a third-party relaxation can replace the ReLU one', () => {
    const regPlugins = createPluginContainer();
    registerBounds(regPlugins);
    const reg = pluginRegistry(regPlugins);
    reg.register({ kind: 'relaxation', name: 'half-slope', description: 'test', options: z.object({}), create: () => new HalfSlopeRelu() });
    const set = relaxationsFromRegistry(reg, { relu: 'half-slope' });
    expect(set.get('relu')?.name).toBe('half-slope');
    const c = buildConformanceNetwork('mlp-deep', 2);
    const x = tf.randomUniform([2, 4], 0, 1, 'float32', 3);
    const box = boxAround(x, 0.2);
    const std = reg.create('bound-method', 'crown-ibp');
    const half = reg.create('bound-method', 'crown-ibp', { relaxations: { relu: 'half-slope' } });
    const a = std.compute(c.net, box);
    const b = half.compute(c.net, box);
    expect(tf.max(tf.abs(tf.sub(a.lower, b.lower))).dataSync()[0]).toBeGreaterThan(1e-4);
    expect(() => relaxationsFromRegistry(reg, { relu: 'dense' })).toThrow(/covers layer kind 'dense', not 'relu'/);
    expect(() => relaxationsFromRegistry(reg, { sigmoid: 'relu' })).toThrow(/unknown layer kind 'sigmoid'/);
    expect(() => reg.create('bound-method', 'crown', { iterations: 3 })).toThrow();
    tf.dispose([x, box.lower, box.upper, a.lower, a.upper, b.lower, b.upper]);
    c.dispose();
  });
});

describe('boundReport', () => {
  it('returns plain arrays of output and spec bounds', () => {
    const c = buildConformanceNetwork('mlp-deep', 2);
    const x = tf.randomUniform([2, 4], 0, 1, 'float32', 3);
    const box = boxAround(x, 0.05);
    const y = tf.tensor1d([0, 2], 'int32');
    const C = specMatrix(y, 3);
    const before = tf.memory().numTensors;
    const r = boundReport(c.net, box, 'crown', C);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.method).toBe('crown');
    expect(r.out_lower).toHaveLength(2);
    expect(r.out_lower[0]).toHaveLength(3);
    expect(r.spec_upper?.[1]).toHaveLength(2);
    expect(r.out_lower[0][1]).toBeLessThanOrEqual(r.out_upper[0][1]);
    expect(r.time_s).toBeGreaterThan(0);
    expect(boundReport(c.net, box, 'ibp').spec_lower).toBeNull();
    expect(() => boundReport(c.net, box, 'nope')).toThrow(/unknown bound method 'nope'/);
    tf.dispose([x, box.lower, box.upper, y, C]);
    c.dispose();
  });
});
