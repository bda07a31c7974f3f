import * as tf from '@tensorflow/tfjs-core';
import { createPluginContainer, pluginRegistry } from '@certkd/core';
import {
  X,
  XADV,
  Y,
  boxRef,
  context,
  disposeContext,
  fixedAttack,
  fixedTeacher,
  ibpLowerRef,
  logitsRef,
  lossRef,
  mean,
  tinyNet,
} from './__fixtures__/tiny-net';
import { registerDistillLosses } from './register';

const softmax = (f: number[]) => {
  const m = Math.max(...f);
  const e = f.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('ad-cert', () => {
  it('is alpha L_IBP + (1 - alpha) KL(p_T(x) || p_S(x_adv))', () => {
    const net = tinyNet();
    const tLogits = [
      [2, 0, -1],
      [0.5, 1.5, 0],
      [-1, 0, 3],
    ];
    const ctx = context(net, 0.1, { attack: fixedAttack, teacher: fixedTeacher([[0], [0], [0]], tLogits) });
    const registryPlugins = createPluginContainer();
    registerDistillLosses(registryPlugins);
    const registry = pluginRegistry(registryPlugins);
    const a = 0.3;
    const lIbp = mean(X.map((x, n) => lossRef(ibpLowerRef(boxRef(x, 0.1).lo, boxRef(x, 0.1).hi, Y[n]))));
    const kl = mean(
      XADV.map((xa, n) => {
        const pt = softmax(tLogits[n]);
        const ps = softmax(logitsRef(xa));
        return pt.reduce((s, p, k) => s + p * Math.log(p / ps[k]), 0);
      }),
    );
    const out = tf.tidy(() => {
      const o = registry.create('distill-loss', 'ad-cert', { alpha: a }).compute(ctx);
      return [o.total.arraySync(), o.parts.ibp.arraySync(), o.parts.kd.arraySync()] as number[];
    });
    expect(kl).toBeGreaterThan(0);
    expect(out[1]).toBeCloseTo(a * lIbp, 5);
    expect(out[2]).toBeCloseTo((1 - a) * kl, 5);
    expect(out[0]).toBeCloseTo(a * lIbp + (1 - a) * kl, 5);
    disposeContext(ctx);
    net.dispose();
  });
});
