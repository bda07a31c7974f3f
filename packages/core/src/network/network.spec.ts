import * as tf from '@tensorflow/tfjs-core';
import { Network, inferShapes } from './network';
import { ARCHITECTURES, architectureOptions } from './architectures';
import { SeededRng } from '../rng/seeded-rng';
import { NetworkSpec } from './layers';
import '../index';

const mnist = { shape: [28, 28, 1] as [number, number, number], classes: 10, mean: [0], std: [1] };
const build = (name: string, input = mnist) => ARCHITECTURES.find((a) => a.name === name)!.build(input, architectureOptions.parse({}));
// CNN7 on the cpu backend is slow at 28x28; its layout does not depend on the input size.
const small = { ...mnist, shape: [8, 8, 1] as [number, number, number] };

describe('Network IR', () => {
  it.each(['cnn-small', 'cnn-medium', 'cnn7', 'mlp'])('%s builds and infers shapes', (name) => {
    const input = name === 'cnn7' ? small : mnist;
    const spec = build(name, input);
    const shapes = inferShapes(spec);
    expect(shapes[shapes.length - 1]).toEqual([10]);
    const net = Network.create(spec, new SeededRng(0));
    const x = tf.zeros([2, ...input.shape]);
    const out = net.forward(x, { mode: 'eval' });
    expect(out.output.shape).toEqual([2, 10]);
    expect(out.taps.penultimate.shape[1]).toBe(net.widthAt(net.tapIndex('penultimate')));
    tf.dispose([x, out.output]);
    net.dispose();
  });

  it('cnn-small matches the reference layout (3200 -> 100 -> 10)', () => {
    const net = Network.create(build('cnn-small'), new SeededRng(0));
    expect(net.widthAt(net.layers.findIndex((l) => l.kind === 'flatten') + 1)).toBe(3200);
    expect(net.widthAt(net.tapIndex('penultimate'))).toBe(100);
    net.dispose();
  });

  it('same seed gives the same parameters; IBP init uses sigma = sqrt(2 pi)/fan_in', () => {
    const a = Network.create(build('cnn-small'), new SeededRng(5));
    const b = Network.create(build('cnn-small'), new SeededRng(5));
    const ka = a.param(1, 'kernel').dataSync();
    expect(Array.from(b.param(1, 'kernel').dataSync())).toEqual(Array.from(ka));
    const ibp = Network.create(build('cnn-small'), new SeededRng(5), 'ibp');
    const k = ibp.param(4, 'kernel');
    const fanIn = 4 * 4 * 16;
    const std = Math.sqrt(tf.moments(k).variance.dataSync()[0]);
    expect(std).toBeGreaterThan((0.9 * Math.sqrt(2 * Math.PI)) / fanIn);
    expect(std).toBeLessThan((1.1 * Math.sqrt(2 * Math.PI)) / fanIn);
    [a, b, ibp].forEach((n) => n.dispose());
  });

  it('train mode uses batch statistics, which can be collected and reused', () => {
    const net = Network.create(build('cnn-small'), new SeededRng(1));
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 1);
    const r1 = net.forward(x, { mode: 'train', collectStats: true });
    expect(r1.bnStats.size).toBe(3);
    const r2 = net.forward(x, { mode: 'train', bnStats: r1.bnStats });
    expect(tf.max(tf.abs(tf.sub(r1.output, r2.output))).dataSync()[0]).toBeLessThan(1e-5);
    // A single example normalised with its own statistics differs from one normalised with the batch's.
    const one = tf.slice(x, [0], [1]);
    const own = net.forward(tf.concat([one, one]), { mode: 'train' }).output;
    const shared = net.forward(tf.concat([one, one]), { mode: 'train', bnStats: r1.bnStats }).output;
    expect(tf.max(tf.abs(tf.sub(own, shared))).dataSync()[0]).toBeGreaterThan(1e-3);
    net.dispose();
  });

  it('updates running statistics with momentum', () => {
    const spec: NetworkSpec = { inputShape: [3], layers: [{ kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 }] };
    const net = Network.create(spec, new SeededRng(0));
    const x = tf.tensor2d([
      [1, 2, 3],
      [3, 6, 9],
    ]);
    const r = net.forward(x, { mode: 'train', collectStats: true });
    net.updateRunningStats(r.bnStats, 2);
    const mean = Array.from(net.param(0, 'movingMean').dataSync());
    expect(mean[0]).toBeCloseTo(0.2, 5); // 0.9*0 + 0.1*2
    const v = Array.from(net.param(0, 'movingVariance').dataSync());
    expect(v[0]).toBeCloseTo(0.9 + 0.1 * 2, 4); // unbiased batch variance of {1,3} is 2
    net.dispose();
  });

  it('bnAffine64 gives the eval-mode scale and shift in float64, and the shift terms that may cancel', () => {
    const spec: NetworkSpec = { inputShape: [3], layers: [{ kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 }] };
    const net = Network.create(spec, new SeededRng(0));
    net.param(0, 'gamma').assign(tf.tensor1d([2, -0.5, 1]));
    net.param(0, 'beta').assign(tf.tensor1d([0.25, 3, 1000]));
    net.param(0, 'movingMean').assign(tf.tensor1d([1, -4, 1000]));
    net.param(0, 'movingVariance').assign(tf.tensor1d([4, 0.25, 1]));
    const { scale, shift, shiftTerms } = net.bnAffine64(0);
    const s = [2 / Math.sqrt(4.001), -0.5 / Math.sqrt(0.251), 1 / Math.sqrt(1.001)];
    const variance = net.param(0, 'movingVariance').dataSync(); // float32 as stored
    for (let c = 0; c < 3; c++) {
      expect(scale[c]).toBe(net.param(0, 'gamma').dataSync()[c] / Math.sqrt(variance[c] + 1e-3));
      expect(scale[c]).toBeCloseTo(s[c], 6);
    }
    expect(shift[0]).toBeCloseTo(0.25 - s[0], 6);
    expect(shift[1]).toBeCloseTo(3 + 4 * s[1], 6);
    // channel 2 nearly cancels: the shift is about 0.5 but its terms sum to about 2000
    expect(shift[2]).toBeCloseTo(1000 - 1000 * s[2], 4);
    expect(shiftTerms[2]).toBeCloseTo(1000 + 1000 * s[2], 4);
    expect(shiftTerms[1]).toBeCloseTo(3 + 4 * Math.abs(s[1]), 6);
    // the float32 tensor form agrees
    const bn = net.bnAffine(0);
    const sc32 = bn.scale.dataSync();
    const sh32 = bn.shift.dataSync();
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(sc32[c] - scale[c])).toBeLessThan(1e-6 * Math.abs(scale[c]));
      expect(Math.abs(sh32[c] - shift[c])).toBeLessThan(1e-6 * shiftTerms[c]);
    }
    tf.dispose([bn.scale, bn.shift]);
    net.dispose();
  });

  it('rejects inconsistent specs', () => {
    expect(() =>
      inferShapes({ inputShape: [4], layers: [{ kind: 'conv2d', filters: 2, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: true }] }),
    ).toThrow(/needs an \[H, W, C\] input/);
    expect(() => inferShapes({ inputShape: [4, 4, 1], layers: [{ kind: 'dense', units: 2, useBias: true }] })).toThrow(/add a flatten/);
    expect(() => Network.create(build('mlp'), new SeededRng(0)).tapIndex('nope')).toThrow(/no feature tap named 'nope'/);
  });

  it('a forward pass and a gradient step leak no tensors', () => {
    const net = Network.create(build('cnn-small'), new SeededRng(2));
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 2);
    const y = tf.oneHot(tf.tensor1d([1, 2, 3, 4], 'int32'), 10);
    const step = () => {
      const { grads, value } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, { mode: 'train' }).output) as tf.Scalar);
      tf.dispose(grads);
      value.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});
