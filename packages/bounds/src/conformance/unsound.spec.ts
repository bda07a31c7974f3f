import * as tf from '@tensorflow/tfjs-core';
import { ReluRelaxation, ActivationLines } from '../relaxations/activation';
import type { Interval, LayerContext, LowerUpper } from '../types';
import { checkActivationLines, checkNetwork } from './check';

/** Deliberately unsound: IBP halves the ReLU output radius and the upper line is half the chord. */
class ShrunkRelu extends ReluRelaxation {
  override interval(ctx: LayerContext, input: Interval): Interval {
    const iv = super.interval(ctx, input);
    return { center: iv.center, radius: tf.mul(iv.radius, 0.5) };
  }
  override lines(pre: LowerUpper, alpha?: tf.Tensor): ActivationLines {
    const l = super.lines(pre, alpha);
    return { ...l, upperSlope: tf.mul(l.upperSlope, 0.5), upperIntercept: tf.mul(l.upperIntercept, 0.5) };
  }
}

/** Sound but leaks one tensor per interval call. */
class LeakyRelu extends ReluRelaxation {
  override interval(ctx: LayerContext, input: Interval): Interval {
    tf.keep(tf.zeros([1]));
    return super.interval(ctx, input);
  }
}

describe('the conformance suite catches broken relaxations', () => {
  it('reports unsound bounds for every method and the broken lines', () => {
    const v = checkNetwork('mlp-deep', { relaxations: [new ShrunkRelu()] });
    const unsoundMethods = new Set(v.filter((x) => x.check === 'soundness').map((x) => x.method));
    expect([...unsoundMethods].sort()).toEqual(['alpha-crown', 'crown', 'crown-ibp', 'ibp']);
    expect(v.some((x) => x.check === 'soundness' && /PGD point/.test(x.detail))).toBe(true);
    const lines = checkActivationLines({ relaxations: [new ShrunkRelu()] });
    expect(lines.map((x) => x.method)).toEqual(['relu']);
  });

  it('reports leaked tensors', () => {
    const v = checkNetwork('mlp-deep', { relaxations: [new LeakyRelu()], methods: ['ibp'] });
    expect(v.length).toBeGreaterThan(0);
    expect(v.every((x) => x.check === 'leak')).toBe(true);
  });

  it('accepts the built-ins (control)', () => {
    expect(checkNetwork('mlp-deep', { methods: ['ibp', 'crown'] })).toEqual([]);
  });
});

describe('ReluRelaxation.backward', () => {
  it('uses the lines of a subclass that overrides lines()', () => {
    // Only the upper lines are broken here (interval() is the built-in one): CROWN must notice.
    class ShrunkLinesRelu extends ReluRelaxation {
      override lines(pre: LowerUpper, alpha?: tf.Tensor): ActivationLines {
        const l = super.lines(pre, alpha);
        return { ...l, upperSlope: tf.mul(l.upperSlope, 0.5), upperIntercept: tf.mul(l.upperIntercept, 0.5) };
      }
    }
    const v = checkNetwork('mlp-deep', { relaxations: [new ShrunkLinesRelu()], methods: ['crown-ibp'] });
    expect(v.some((x) => x.check === 'soundness' && x.method === 'crown-ibp')).toBe(true);
  });
});
