import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { PluginRegistry } from '@certkd/core';
import { baseLossOptions, defineLoss } from './batch-loss';
import { lossOverLowerBounds } from '@certkd/certified-losses';
import { X, Y, boxRef, context, disposeContext, fixedAttack, ibpLowerRef, lossRef, mean, tinyNet } from './__fixtures__/tiny-net';

describe('defineLoss', () => {
  const plugin = defineLoss({
    kind: 'certified-loss',
    name: 'scaled-ibp',
    description: 'IBP loss times a factor (test)',
    options: z.strictObject({ ...baseLossOptions, factor: z.number().default(2) }),
    compute: (batch, o) => ({ parts: { 'scaled-ibp': tf.mul(lossOverLowerBounds(batch.ibpLower()), o.factor) as tf.Scalar } }),
  });

  it('makes a registrable plugin whose total sums the parts and adds l1', () => {
    const registry = new PluginRegistry();
    registry.register(plugin, 'test');
    expect(registry.names('certified-loss')).toEqual(['scaled-ibp']);
    const net = tinyNet(true);
    const ctx = context(net, 0.1, { attack: fixedAttack });
    const loss = registry.create('certified-loss', 'scaled-ibp', { factor: 3, l1: 0.01 });
    expect(loss.name).toBe('scaled-ibp');
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => {
      const o = loss.compute(ctx);
      expect(o.bnStats?.size).toBe(1);
      return [o.total.arraySync(), o.parts['scaled-ibp'].arraySync(), o.parts.l1.arraySync()] as number[];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(out[0]).toBeCloseTo(out[1] + out[2], 5);
    expect(out[2]).toBeGreaterThan(0);
    disposeContext(ctx);
    net.dispose();
  });

  it('computes the IBP loss of the BatchNorm-free fixture exactly', () => {
    const net = tinyNet();
    const ctx = context(net, 0.1);
    const loss = plugin.create({ ...z.strictObject({ ...baseLossOptions, factor: z.number().default(2) }).parse({}) }, undefined as never);
    const got = tf.tidy(() => loss.compute(ctx).total.arraySync() as number);
    expect(got).toBeCloseTo(2 * mean(X.map((x, n) => lossRef(ibpLowerRef(boxRef(x, 0.1).lo, boxRef(x, 0.1).hi, Y[n])))), 5);
    expect(() => new PluginRegistry().create('certified-loss', 'scaled-ibp')).toThrow(/unknown certified-loss/);
    disposeContext(ctx);
    net.dispose();
  });
});
