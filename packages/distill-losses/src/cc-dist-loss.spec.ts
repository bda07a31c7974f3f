import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, SeededRng, createPluginContainer, pluginRegistry } from '@certkd/core';
import { boxAround, ibp, specMatrix } from '@certkd/bounds';
import {
  X,
  XADV,
  Y,
  boxRef,
  context,
  diffsRef,
  disposeContext,
  featuresRef,
  fixedAttack,
  fixedTeacher,
  hiddenBoxRef,
  ibpLowerRef,
  logitsRef,
  lossRef,
  mean,
  networkTeacher,
  tinyNet,
} from './__fixtures__/tiny-net';
import { registerDistillLosses } from './register';
import { CcDistLoss, worstCaseDistillation } from './cc-dist-loss';
import { intervalThroughLinear } from './interval-linear';

const registryPlugins = createPluginContainer();
registerDistillLosses(registryPlugins);
const registry = pluginRegistry(registryPlugins);
const make = (name: string, o: Record<string, unknown> = {}) => registry.create('distill-loss', name, o);

// Teacher features for the three inputs of the fixture (width 3 like the student).
const T = [
  [0.5, 0.1, 1.2],
  [0, 1.5, 0.3],
  [0.8, 0.8, 0.1],
];

/** max over the 2^d corners of the box [lo, hi] of sum_k (c_k - t_k)^2. */
function cornerMax(lo: number[], hi: number[], t: number[]): number {
  let best = -Infinity;
  for (let mask = 0; mask < 1 << lo.length; mask++) {
    const c = lo.map((l, k) => ((mask >> k) & 1 ? hi[k] : l));
    best = Math.max(
      best,
      c.reduce((s, ck, k) => s + (ck - t[k]) ** 2, 0),
    );
  }
  return best;
}

describe('cc-dist', () => {
  const net = tinyNet();
  afterAll(() => net.dispose());
  const eps = 0.1;

  it('worstCaseDistillation equals the brute-force max over the box corners', () => {
    const rng = new SeededRng(11);
    const n = 4;
    const d = 5;
    const lo = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
    const hi = lo.map((r) => r.map((v) => v + Math.abs(rng.normal())));
    const t = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
    const want = mean(lo.map((l, i) => cornerMax(l, hi[i], t[i])));
    const got = tf.tidy(() => worstCaseDistillation(tf.tensor2d(lo), tf.tensor2d(hi), tf.tensor2d(t)).arraySync() as number);
    expect(got).toBeCloseTo(want, 4);
  });

  it('the distill part is beta times the corner max over the convex-combination feature box', () => {
    const alpha = 0.4;
    const ctx = context(net, eps, { attack: fixedAttack, teacher: fixedTeacher(T) });
    const want = mean(
      X.map((x, n) => {
        const { lo, hi } = boxRef(x, eps);
        const { l, u } = hiddenBoxRef(lo, hi);
        const phi = featuresRef(XADV[n]);
        const lh = phi.map((p, k) => (1 - alpha) * p + alpha * l[k]);
        const uh = phi.map((p, k) => (1 - alpha) * p + alpha * u[k]);
        return cornerMax(lh, uh, T[n]);
      }),
    );
    const got = tf.tidy(() => make('cc-dist', { alpha, beta: 2 }).compute(ctx).parts.distill.arraySync() as number);
    expect(want).toBeGreaterThan(0);
    expect(got).toBeCloseTo(2 * want, 4);
    // default beta = 5 / d
    const dflt = tf.tidy(() => make('cc-dist', { alpha }).compute(ctx).parts.distill.arraySync() as number);
    expect(dflt).toBeCloseTo((5 / 3) * want, 4);
    disposeContext(ctx);
  });

  it('with beta = 0 it is CC-IBP: L(alpha zl + (1 - alpha) z(x_adv))', () => {
    const alpha = 0.3;
    const ctx = context(net, eps, { attack: fixedAttack, teacher: fixedTeacher(T) });
    const want = mean(
      X.map((x, n) => {
        const { lo, hi } = boxRef(x, eps);
        const zl = ibpLowerRef(lo, hi, Y[n]);
        const za = diffsRef(logitsRef(XADV[n]), Y[n]);
        return lossRef(zl.map((v, j) => alpha * v + (1 - alpha) * za[j]));
      }),
    );
    const out = tf.tidy(() => {
      const o = make('cc-dist', { alpha, beta: 0 }).compute(ctx);
      return [o.total.arraySync(), o.parts['cc-ibp'].arraySync(), o.parts.distill.arraySync()] as number[];
    });
    expect(out[0]).toBeCloseTo(want, 5);
    expect(out[1]).toBeCloseTo(want, 5);
    expect(out[2]).toBe(0);
    // the head-elided bound from the feature box equals bounds' ibp with the spec
    const at1 = tf.tidy(() => make('cc-dist', { alpha: 1, beta: 0 }).compute(ctx).total.arraySync() as number);
    const direct = tf.tidy(() => {
      const zl = ibp(net, boxAround(ctx.x, eps), { spec: specMatrix(ctx.y, 3) }).lower;
      return tf.mean(tf.logSumExp(tf.concat([tf.zeros([3, 1]), tf.neg(zl)], 1), 1)).arraySync() as number;
    });
    expect(at1).toBeCloseTo(direct, 5);
    disposeContext(ctx);
  });

  it('needs a teacher and refuses mismatched widths without an adapter', () => {
    const ctx = context(net, eps, { attack: fixedAttack });
    expect(() => tf.tidy(() => make('cc-dist').compute(ctx).total)).toThrow(/needs a teacher/);
    const wide = context(net, eps, { attack: fixedAttack, teacher: fixedTeacher(T.map((r) => [...r, 1])) });
    expect(() => tf.tidy(() => make('cc-dist', { adapter: 'never' }).compute(wide).total)).toThrow(ConfigError);
    expect(() => make('cc-dist', { gamma: 1 })).toThrow(ConfigError);
    // an adapter that the training loop could not optimise is refused, not silently left untrained
    expect(() => tf.tidy(() => make('cc-dist').compute(wide).total)).toThrow(/prepare\(net, teacher, rng\)/);
    const prepared = make('cc-dist') as CcDistLoss;
    prepared.prepare(net, wide.teacher!, new SeededRng(1));
    expect(prepared.variables().map((v) => v.shape)).toEqual([[3, 4]]);
    expect(Number.isFinite(tf.tidy(() => prepared.compute(wide).total.arraySync() as number))).toBe(true);
    prepared.dispose();
    disposeContext(ctx);
    disposeContext(wide);
  });

  it('learns an adapter when the teacher is wider: gradients reach it, its box is sound, no leaks', () => {
    const student = tinyNet(true);
    const extra: tf.Variable[] = [];
    const ctx = context(student, eps, { teacher: fixedTeacher(T.map((r) => [...r, 0.7])), extraVariables: extra });
    const loss = make('cc-dist', { alpha: 0.5 });
    tf.tidy(() => loss.compute(ctx).total); // first batch creates the adapter
    const [A] = loss.variables!();
    expect(A.shape).toEqual([3, 4]);
    expect(extra).toEqual([A]);
    const vars = [...student.trainableVariables(), A];
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => loss.compute(ctx).total, vars);
    const g = grads[A.name].dataSync();
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
    value.dispose();
    Object.values(grads).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);

    // interval through the adapter contains the images of sampled points of the box
    tf.tidy(() => {
      const rng = new SeededRng(2);
      const lo = tf.tensor2d([[0, -1, 0.5]]);
      const hi = tf.tensor2d([[1, 0.5, 0.7]]);
      const b = intervalThroughLinear(lo, hi, A as unknown as tf.Tensor2D);
      const bl = b.lower.dataSync();
      const bu = b.upper.dataSync();
      for (let s = 0; s < 50; s++) {
        const p = [0, -1, 0.5].map((l, k) => l + rng.next() * ([1, 0.5, 0.7][k] - l));
        const img = tf.matMul(tf.tensor2d([p]), A).dataSync();
        img.forEach((v, k) => {
          expect(v).toBeGreaterThanOrEqual(bl[k] - 1e-5);
          expect(v).toBeLessThanOrEqual(bu[k] + 1e-5);
        });
      }
    });
    loss.dispose!();
    disposeContext(ctx);
    student.dispose();
  });

  it('the teacher gets no gradient; the student gets finite non-zero gradients; no leaks', () => {
    const student = tinyNet(true);
    const teacherNet = tinyNet(true);
    const teacher = networkTeacher(teacherNet);
    const ctx = context(student, eps, { teacher });
    const loss = make('cc-dist', { alpha: 0.5, l1: 1e-3 });
    const tVars = teacherNet.trainableVariables();
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => loss.compute(ctx).total, [...student.trainableVariables(), ...tVars]);
    for (const v of tVars) expect(grads[v.name]).toBeUndefined();
    let norm = 0;
    for (const v of student.trainableVariables()) {
      const d = grads[v.name].dataSync<'float32'>();
      expect(d.every(Number.isFinite)).toBe(true);
      norm += d.reduce((s, a) => s + a * a, 0);
    }
    expect(norm).toBeGreaterThan(0);
    value.dispose();
    Object.values(grads).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    tf.tidy(() => {
      const out = loss.compute(ctx);
      expect(Object.keys(out.parts).sort()).toEqual(['attack_eps', 'box_eps', 'cc-ibp', 'distill', 'l1']);
      expect(out.bnStats?.get(1)).toBeDefined();
      expect(out.cleanLogits?.shape).toEqual([3, 3]);
    });
    disposeContext(ctx);
    student.dispose();
    teacher.dispose();
  });
});
