import * as tf from '@tensorflow/tfjs-core';
import { shiRegularisers, regulariserWeight } from './regularisers';
import type { IntervalTrace } from './interval-trace';

describe('Shi et al. regularisers', () => {
  it('match a hand computation on one ReLU layer', () => {
    // centres and radii of 4 pre-activations in a batch of 1
    const c = [2, -1, 0.5, -6];
    const r = [1, 0.5, 1, 1];
    // active (l > 0): index 0 (l = 1); inactive (u < 0): indices 1 (u = -0.5) and 3 (u = -5)
    const tau = 0.5;
    const t0 = 0.2;
    const ti = (1 + 0.5 + 1 + 1) / 4;
    const tightness = Math.max(0, tau - t0 / ti) / tau;
    const meanAct = 2 / 4;
    const meanInact = (1 + 6) / 4;
    const mu = (2 - 1 + 0.5 - 6) / 4;
    const varAct = (2 - mu) ** 2;
    const varInact = (-1 - mu) ** 2 + (-6 - mu) ** 2;
    const rho = (a: number, b: number) => Math.min(a / b, b / a);
    const balance = (Math.max(0, tau - rho(meanAct, meanInact)) + Math.max(0, tau - rho(varAct, varInact))) / tau;
    const got = tf.tidy(() => {
      const trace: IntervalTrace = {
        out: { centre: tf.zeros([1, 1]), radius: tf.zeros([1, 1]) },
        preActivations: [{ centre: tf.tensor2d([c]), radius: tf.tensor2d([r]) }],
        inputRadiusMean: tf.scalar(t0),
      };
      const g = shiRegularisers(trace, { tau });
      return [g.tightness.arraySync() as number, g.balance.arraySync() as number];
    });
    expect(tightness).toBeGreaterThan(0);
    expect(balance).toBeGreaterThan(0);
    expect(got[0]).toBeCloseTo(tightness, 5);
    expect(got[1]).toBeCloseTo(balance, 5);
  });

  it('stay finite with no active and no inactive neuron, and weight lambda (1 - eps / epsMax)', () => {
    const got = tf.tidy(() => {
      const g = shiRegularisers(
        {
          out: { centre: tf.zeros([1, 1]), radius: tf.zeros([1, 1]) },
          preActivations: [{ centre: tf.tensor2d([[0.1, -0.1]]), radius: tf.tensor2d([[1, 1]]) }],
          inputRadiusMean: tf.scalar(0),
        },
        { tau: 0.5 },
      );
      return [g.tightness.arraySync() as number, g.balance.arraySync() as number];
    });
    expect(got[0]).toBeCloseTo(1, 6);
    expect(got[1]).toBeCloseTo(2, 6);
    expect(regulariserWeight(0.5, 0.25, 1)).toBeCloseTo(0.375, 12);
    expect(regulariserWeight(0.5, 1, 1)).toBe(0);
  });
});
