import * as tf from '@tensorflow/tfjs-core';
import { BatchStatsMap, PluginRegistry, TrainingLoss } from '@certkd/core';
import { boxAround, ibp, specMatrix } from '@certkd/bounds';
import { context, disposeContext, fixedAttack, tinyNet, XADV } from './__fixtures__/tiny-net';
import { registerCertifiedLosses } from './register';

// METHODS 9.3 and the reference's ccibp_loss: clean train-mode statistics, detached, reused by
// the adversarial and bound passes.
describe('batch-norm policy of the certified losses', () => {
  const registry = new PluginRegistry();
  registerCertifiedLosses(registry);

  it('cc-ibp uses the clean batch statistics, returns them, and sends no gradient through them', () => {
    const net = tinyNet(true);
    const ctx = context(net, 0.1, { attack: fixedAttack });
    const loss = registry.create<TrainingLoss>('certified-loss', 'cc-ibp', { alpha: 0.5 });
    const vars = net.trainableVariables();

    // Constant statistics of the clean batch (fresh tensors, not connected to the weights).
    const pre = tf.tidy(() => net.forward(ctx.x, { mode: 'eval', end: 1 }).output);
    const m = tf.moments(pre, [0]);
    const stats: BatchStatsMap = new Map([[1, { mean: m.mean.clone() as tf.Tensor1D, variance: m.variance.clone() as tf.Tensor1D }]]);
    const want = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const spec = specMatrix(ctx.y, 3);
          const adv = tf.minimum(tf.maximum(tf.tensor2d(XADV), tf.sub(ctx.x, 0.1)), tf.add(ctx.x, 0.1));
          const f = net.forward(adv, { mode: 'train', bnStats: stats }).output;
          const zAdv = tf.squeeze(tf.matMul(spec, tf.expandDims(f, 2)), [2]);
          const zl = ibp(net, boxAround(ctx.x, 0.1), { mode: 'train', bnStats: stats, spec }).lower;
          const v = tf.add(tf.mul(zl, 0.5), tf.mul(zAdv, 0.5));
          return tf.mean(tf.logSumExp(tf.concat([tf.zeros([3, 1]), tf.neg(v)], 1), 1)) as tf.Scalar;
        }),
      vars,
    );
    let returned: number[][] = [];
    const got = tf.variableGrads(() => {
      const out = loss.compute(ctx);
      const s = out.bnStats!.get(1)!;
      returned = [Array.from(s.mean.dataSync()), Array.from(s.variance.dataSync())];
      return out.total;
    }, vars);
    expect(got.value.arraySync()).toBeCloseTo(want.value.arraySync() as number, 5);
    for (const v of vars) {
      const a = got.grads[v.name].dataSync();
      const b = want.grads[v.name].dataSync();
      a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 4));
    }
    expect(returned[0]).toEqual(Array.from(m.mean.dataSync()).map((x) => expect.closeTo(x, 6)));
    expect(returned[1]).toEqual(Array.from(m.variance.dataSync()).map((x) => expect.closeTo(x, 6)));

    // The running statistics were not used: the eval-mode loss differs.
    const evalValue = tf.tidy(() => {
      const spec = specMatrix(ctx.y, 3);
      const zl = ibp(net, boxAround(ctx.x, 0.1), { spec }).lower;
      return tf.mean(tf.logSumExp(tf.concat([tf.zeros([3, 1]), tf.neg(zl)], 1), 1)).arraySync() as number;
    });
    const ibpTrain = tf.tidy(() => registry.create<TrainingLoss>('certified-loss', 'cc-ibp', { alpha: 1 }).compute(ctx).total.arraySync() as number);
    expect(Math.abs(evalValue - ibpTrain)).toBeGreaterThan(1e-3);

    [want.value, got.value, ...Object.values(want.grads), ...Object.values(got.grads), m.mean, m.variance, pre].forEach((t) => t.dispose());
    stats.forEach((s) => (s.mean.dispose(), s.variance.dispose()));
    disposeContext(ctx);
    net.dispose();
  });
});
