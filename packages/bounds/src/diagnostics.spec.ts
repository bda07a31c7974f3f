import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, SeededRng } from '@certkd/core';
import { boxAround } from './box';
import { boundDiagnostics } from './diagnostics';
import { ibp } from './methods/ibp';

const spec = (hidden: number) => ({
  inputShape: [6],
  layers: [
    { kind: 'dense' as const, units: hidden, useBias: true },
    { kind: 'relu' as const },
    { kind: 'dense' as const, units: 7, useBias: true },
    { kind: 'relu' as const },
    { kind: 'dense' as const, units: 3, useBias: true },
  ],
});

/** A network's penultimate features as a teacher (what @certkd/teachers' NetworkTeacher gives). */
const asTeacher = (t: Network) => {
  const tap = t.tapIndex('penultimate');
  const featureWidth = t.widthAt(tap);
  return { featureWidth, features: (x: tf.Tensor) => tf.reshape(t.forward(x, { mode: 'eval', end: tap }).output, [x.shape[0], featureWidth]) as tf.Tensor2D };
};

describe('boundDiagnostics', () => {
  const net = Network.create(spec(9), new SeededRng(1));
  const other = Network.create(spec(5), new SeededRng(2));
  const x = tf.tidy(() => tf.randomUniform([13, 6], 0, 1, 'float32', 3));
  afterAll(() => {
    net.dispose();
    other.dispose();
    x.dispose();
  });

  it('counts the ReLUs whose IBP interval straddles zero, layer by layer, as a direct count does', () => {
    const before = tf.memory().numTensors;
    const diag = boundDiagnostics(net, x, 0.05, { batch: 4 });
    expect(tf.memory().numTensors).toBe(before);
    const box = boxAround(x, 0.05);
    const direct = [1, 3].map((layer) => {
      const b = ibp(net, box, { end: layer });
      const lo = b.lower.dataSync();
      const hi = b.upper.dataSync();
      let count = 0;
      lo.forEach((l, i) => (count += l < 0 && hi[i] > 0 ? 1 : 0));
      tf.dispose([b.lower, b.upper]);
      return count / 13;
    });
    const feat = ibp(net, box, { end: net.tapIndex('penultimate') });
    const width = tf.tidy(() => tf.mean(tf.sub(feat.upper, feat.lower)).dataSync()[0]);
    tf.dispose([box.lower, box.upper, feat.lower, feat.upper]);
    expect(diag.per_layer.map((l) => l.layer)).toEqual([1, 3]);
    expect(diag.per_layer.map((l) => l.units)).toEqual([9, 7]);
    diag.per_layer.forEach((l, k) => expect(l.unstable).toBeCloseTo(direct[k], 10));
    expect(diag.unstable_relus).toBeCloseTo(direct[0] + direct[1], 10);
    expect(diag.unstable_fraction).toBeCloseTo((direct[0] + direct[1]) / 16, 10);
    expect(diag.feature_box_width).toBeCloseTo(width, 5);
    expect(diag.teacher_distance).toBeUndefined();
  });

  it('has no width and no unstable ReLU at eps 0, and looser bounds at a larger eps', () => {
    const zero = boundDiagnostics(net, x, 0);
    expect(zero.feature_box_width).toBeLessThan(1e-6);
    expect(zero.unstable_relus).toBe(0);
    const small = boundDiagnostics(net, x, 0.02);
    const large = boundDiagnostics(net, x, 0.2);
    expect(large.feature_box_width).toBeGreaterThan(small.feature_box_width);
    expect(large.unstable_relus).toBeGreaterThanOrEqual(small.unstable_relus);
    expect(large.unstable_relus).toBeGreaterThan(0);
  });

  it('measures the clean feature distance to a teacher of the same width', () => {
    expect(boundDiagnostics(net, x, 0.05, { teacher: asTeacher(net) }).teacher_distance).toBe(0);
    const teacher = Network.create(spec(4), new SeededRng(7));
    const diag = boundDiagnostics(net, x, 0.05, { teacher: asTeacher(teacher), batch: 5 });
    const [dist, energy] = tf.tidy(() => {
      const fs = net.forward(x, { mode: 'eval', end: net.tapIndex('penultimate') }).output;
      const ft = teacher.forward(x, { mode: 'eval', end: teacher.tapIndex('penultimate') }).output;
      return [tf.sum(tf.square(tf.sub(fs, ft))).dataSync()[0] / 13, tf.sum(tf.square(ft)).dataSync()[0]];
    });
    expect(diag.teacher_distance).toBeCloseTo(dist, 4);
    expect(diag.teacher_distance_rel).toBeCloseTo((dist * 13) / energy, 5);
    teacher.dispose();
  });

  it('refuses a teacher of another feature width', () => {
    const wide = Network.create(
      { ...spec(9), layers: [...spec(9).layers.slice(0, 2), { kind: 'dense' as const, units: 4, useBias: true }, ...spec(9).layers.slice(3)] },
      new SeededRng(3),
    );
    expect(() => boundDiagnostics(net, x, 0.05, { teacher: asTeacher(wide) })).toThrow(ConfigError);
    expect(() => boundDiagnostics(net, x, 0.05, { teacher: asTeacher(other) })).not.toThrow();
    wide.dispose();
  });
});
