import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, LossContext, TrainingLoss, createPluginContainer, definePlugin, pluginRegistry } from '@certkd/core';
import { ActivationRelaxation, crownIbp, ibp, boxAround, registerBounds, reluPieces, specMatrix, withRelaxations } from '@certkd/bounds';
import { CrownIbpLoss, crownIbpLossOptions } from './crown-ibp-loss';
import {
  X,
  XADV,
  Y,
  advLossRef,
  boxRef,
  clip01,
  context,
  disposeContext,
  fixedAttack,
  ibpLossRef,
  ibpLowerRef,
  lossRef,
  mean,
  tinyNet,
} from '../__fixtures__/tiny-net';
import { registerCertifiedLosses, CERTIFIED_LOSS_PLUGINS } from '../register';
import { CertifiedBatch } from '../certified-batch';

const registryPlugins = createPluginContainer();
registerCertifiedLosses(registryPlugins);
const registry = pluginRegistry(registryPlugins);
const make = (name: string, options: Record<string, unknown> = {}) => registry.create('certified-loss', name, options);

function value(loss: TrainingLoss, ctx: LossContext, part?: string): number {
  return tf.tidy(() => {
    const out = loss.compute(ctx);
    return (part ? out.parts[part] : out.total).arraySync() as number;
  });
}

describe('certified losses on a hand-set 2-layer network', () => {
  const net = tinyNet();
  afterAll(() => net.dispose());
  const eps = 0.1;

  it('ibp equals the interval-arithmetic loss computed by hand', () => {
    const ctx = context(net, eps, { epsMax: 0.2 });
    expect(value(make('ibp', { regularisers: false }), ctx)).toBeCloseTo(ibpLossRef(eps), 5);
    disposeContext(ctx);
  });

  it('cc-ibp at alpha 0 is the adversarial cross-entropy, at alpha 1 the IBP loss, in between L(alpha zl + (1-alpha) zadv)', () => {
    const ctx = context(net, eps, { attack: fixedAttack });
    expect(value(make('cc-ibp', { alpha: 0 }), ctx)).toBeCloseTo(advLossRef(), 5);
    expect(value(make('cc-ibp', { alpha: 1 }), ctx)).toBeCloseTo(ibpLossRef(eps), 5);
    const a = 0.3;
    const want = mean(
      X.map((x, n) => {
        const { lo, hi } = boxRef(x, eps);
        const zl = ibpLowerRef(lo, hi, Y[n]);
        const f = logitsFor(XADV[n]);
        const za = f.flatMap((fj, j) => (j === Y[n] ? [] : [f[Y[n]] - fj]));
        return lossRef(zl.map((v, j) => a * v + (1 - a) * za[j]));
      }),
    );
    expect(value(make('cc-ibp', { alpha: a }), ctx)).toBeCloseTo(want, 5);
    disposeContext(ctx);
  });

  it('mtl-ibp and exp-ibp match their formulas', () => {
    const ctx = context(net, eps, { attack: fixedAttack });
    const li = ibpLossRef(eps);
    const la = advLossRef();
    expect(value(make('mtl-ibp', { alpha: 0.25 }), ctx)).toBeCloseTo(0.25 * li + 0.75 * la, 5);
    expect(value(make('exp-ibp', { alpha: 0.25 }), ctx)).toBeCloseTo(li ** 0.25 * la ** 0.75, 5);
    expect(value(make('mtl-ibp', { alpha: 0.25 }), ctx, 'ibp')).toBeCloseTo(li, 5);
    expect(value(make('exp-ibp', { alpha: 0.25 }), ctx, 'adv')).toBeCloseTo(la, 5);
    expect(li).toBeGreaterThan(la); // the case is not degenerate
    disposeContext(ctx);
  });

  it('sabr bounds the small box around the projected adversarial input', () => {
    const ctx = context(net, eps, { attack: fixedAttack });
    const lam = 0.4;
    const want = mean(
      X.map((x, n) => {
        const c = XADV[n].map((v, i) => Math.min(Math.max(v, x[i] - eps + lam * eps), x[i] + eps - lam * eps));
        const lo = c.map((v) => clip01(v - lam * eps));
        const hi = c.map((v) => clip01(v + lam * eps));
        return lossRef(ibpLowerRef(lo, hi, Y[n]));
      }),
    );
    const got = value(make('sabr', { lambda: lam }), ctx);
    expect(got).toBeCloseTo(want, 5);
    expect(got).toBeLessThan(ibpLossRef(eps));
    disposeContext(ctx);
  });

  it('crown-ibp mixes CROWN-IBP and IBP bounds with b_t = 1 - eps/epsMax', () => {
    const ctx = context(net, 0.05, { epsMax: 0.1 });
    const want = tf.tidy(() => {
      const box = boxAround(ctx.x, 0.05);
      const spec = specMatrix(ctx.y, 3);
      const zc = crownIbp(net, box, { spec }).lower;
      const zi = ibp(net, box, { spec }).lower;
      const v = tf.add(tf.mul(zc, 0.5), tf.mul(zi, 0.5));
      return tf.mean(tf.logSumExp(tf.concat([tf.zeros([3, 1]), tf.neg(v)], 1), 1)).arraySync() as number;
    });
    expect(value(make('crown-ibp'), ctx)).toBeCloseTo(want, 5);
    const end = context(net, 0.1, { epsMax: 0.1 });
    expect(value(make('crown-ibp'), end)).toBeCloseTo(ibpLossRef(0.1), 5);
    disposeContext(ctx);
    disposeContext(end);
  });

  it('crown-ibp takes a relaxation choice from its options, resolved through the run registry', () => {
    // A ReLU relaxation whose lower line is always y >= 0 (as the zero-slope example plugin).
    class ZeroSlopeRelu extends ActivationRelaxation {
      readonly name = 'zero-slope-test';
      readonly layerKind = 'relu' as const;
      apply(x: tf.Tensor) {
        return tf.relu(x);
      }
      lines(pre: { lower: tf.Tensor; upper: tf.Tensor }) {
        const { active, upperSlope, upperIntercept } = reluPieces(pre);
        return { lowerSlope: active, lowerIntercept: tf.zerosLike(pre.lower), upperSlope, upperIntercept };
      }
    }
    const c = createPluginContainer();
    registerBounds(c);
    registerCertifiedLosses(c);
    const reg = pluginRegistry(c);
    reg.register(
      definePlugin({ kind: 'relaxation', name: 'zero-slope-test', description: 'test', options: z.object({}).strict(), create: () => new ZeroSlopeRelu() }),
      'test',
    );
    const ctx = context(net, 0.05, { epsMax: 0.1 });
    const chosen = value(reg.create('certified-loss', 'crown-ibp', { relaxations: { relu: 'zero-slope-test' } }), ctx);
    const direct = value(new CrownIbpLoss(crownIbpLossOptions.parse({}), withRelaxations(new ZeroSlopeRelu())), ctx);
    expect(chosen).toBe(direct);
    expect(chosen).not.toBeCloseTo(value(reg.create('certified-loss', 'crown-ibp', {}), ctx), 4);
    expect(() => reg.create('certified-loss', 'crown-ibp', { relaxations: { relu: 'missing' } })).toThrow(/unknown relaxation 'missing'/);
    expect(() => reg.create('certified-loss', 'crown-ibp', { relaxations: { conv3d: 'x' } })).toThrow(/unknown layer kind 'conv3d'/);
    disposeContext(ctx);
  });

  it('standard is the clean cross-entropy; l1 adds l1 * sum |W|', () => {
    const ctx = context(net, eps);
    const ce = mean(X.map((x, n) => lossRef(logitsFor(x).flatMap((f, j, a) => (j === Y[n] ? [] : [a[Y[n]] - f])))));
    expect(value(make('standard'), ctx)).toBeCloseTo(ce, 5);
    // sum |W1| = 6, sum |W2| = 5.3
    const l1 = 0.01 * (6 + 5.3);
    expect(value(make('standard', { l1: 0.01 }), ctx, 'l1')).toBeCloseTo(l1, 5);
    expect(value(make('cc-ibp', { l1: 0.01, alpha: 0 }), { ...ctx, attack: fixedAttack })).toBeCloseTo(advLossRef() + l1, 5);
    disposeContext(ctx);
  });

  it("the regularisers vanish at eps = epsMax and the traced IBP bound equals bounds' ibp", () => {
    const ctx = context(net, eps, { epsMax: eps });
    expect(value(make('ibp', { regularisers: true }), ctx)).toBeCloseTo(ibpLossRef(eps), 5);
    const traced = tf.tidy(() => {
      const b = new CertifiedBatch(ctx, { trainEpsMul: 1, attackEpsFactor: 1, attack: { steps: 1, stepSize: 10 } });
      b.trace();
      return b.ibpLower().arraySync();
    });
    const direct = tf.tidy(() => new CertifiedBatch(ctx, { trainEpsMul: 1, attackEpsFactor: 1, attack: { steps: 1, stepSize: 10 } }).ibpLower().arraySync());
    traced.forEach((row, n) => row.forEach((v, j) => expect(v).toBeCloseTo(direct[n][j], 5)));
    // During the ramp the regulariser part is positive and adds to the total.
    const ramp = context(net, eps / 2, { epsMax: eps });
    const out = tf.tidy(() => {
      const o = make('ibp').compute(ramp);
      return [o.total.arraySync(), o.parts.ibp.arraySync(), o.parts.regulariser.arraySync()] as number[];
    });
    expect(out[2]).toBeGreaterThan(0);
    expect(out[0]).toBeCloseTo(out[1] + out[2], 5);
    disposeContext(ctx);
    disposeContext(ramp);
  });

  it('rejects unknown options with a ConfigError naming the field', () => {
    expect(() => make('ibp', { lambda: 0.5 })).toThrow(ConfigError);
    expect(() => make('cc-ibp', { alpha: 2 })).toThrow(/alpha/);
    expect(registry.names('certified-loss')).toEqual(['cc-ibp', 'crown-ibp', 'exp-ibp', 'ibp', 'mtl-ibp', 'sabr', 'standard']);
  });
});

function logitsFor(x: number[]): number[] {
  // mirror of the fixture network's forward pass (kept local so the test reads on its own)
  const W1 = [
    [1, -1, 0.5],
    [0.5, 2, -1],
  ];
  const B1 = [0.1, -0.2, 0.3];
  const W2 = [
    [1, -1, 0.2],
    [0.3, 0.7, -0.5],
    [-0.4, 0.2, 1],
  ];
  const B2 = [0.05, -0.1, 0.2];
  const h = B1.map((b, j) => Math.max(0, b + x[0] * W1[0][j] + x[1] * W1[1][j]));
  return B2.map((b, k) => b + h.reduce((s, hj, j) => s + hj * W2[j][k], 0));
}

describe('every certified loss (conformance)', () => {
  for (const p of CERTIFIED_LOSS_PLUGINS) {
    it(`${p.name}: finite non-zero gradients, clean-stat outputs, no tensor leaks`, () => {
      const net = tinyNet(true);
      const ctx = context(net, 0.05);
      const loss = make(p.name, p.name === 'ibp' ? {} : {});
      const vars = net.trainableVariables();
      const before = tf.memory().numTensors;
      const { value: v, grads } = tf.variableGrads(() => loss.compute(ctx).total, vars);
      const total = v.arraySync() as number;
      expect(Number.isFinite(total)).toBe(true);
      let norm = 0;
      for (const g of Object.values(grads)) {
        const d = g.dataSync<'float32'>();
        d.forEach((a) => expect(Number.isFinite(a)).toBe(true));
        norm += d.reduce((s, a) => s + a * a, 0);
      }
      expect(norm).toBeGreaterThan(0);
      v.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      expect(tf.memory().numTensors).toBe(before);
      // parts and bnStats are returned
      tf.tidy(() => {
        const out = loss.compute(ctx);
        expect(out.parts[p.name]).toBeDefined();
        expect(out.parts.l1).toBeDefined();
        expect(out.bnStats?.get(1)).toBeDefined();
        expect(out.cleanLogits?.shape).toEqual([3, 3]);
      });
      disposeContext(ctx);
      net.dispose();
    });
  }
});
