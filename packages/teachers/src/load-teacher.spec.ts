import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, SeededRng, saveModel, type NetworkSpec } from '@certkd/core';
import { saveOnnx } from '@certkd/interop';
import { loadTeacher } from './load-teacher';

const spec: NetworkSpec = {
  inputShape: [4, 4, 1],
  layers: [
    { kind: 'normalize', mean: [0.5], std: [0.25] },
    { kind: 'conv2d', filters: 3, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: true },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', units: 7, useBias: true },
    { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
    { kind: 'relu' },
    { kind: 'dense', units: 3, useBias: true },
  ],
};

describe('loadTeacher', () => {
  let dir: string;
  let net: Network;
  let x: tf.Tensor;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-teacher-'));
    const rng = new SeededRng(4);
    net = Network.create(spec, rng);
    tf.tidy(() => {
      net.param(5, 'movingMean').assign(tf.randomUniform([7], -1, 1, 'float32', 1));
      net.param(5, 'movingVariance').assign(tf.randomUniform([7], 0.5, 2, 'float32', 2));
    });
    saveModel(net, path.join(dir, 'teacher'));
    x = tf.randomUniform([5, 4, 4, 1], 0, 1, 'float32', 3);
  });
  afterAll(() => {
    net.dispose();
    x.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves eval-mode penultimate features identical to the network forward', () => {
    const t = loadTeacher(path.join(dir, 'teacher'));
    expect(t.name).toBe('teacher');
    expect(t.tapIndex).toBe(7);
    expect(t.featureWidth).toBe(7);
    const before = tf.memory().numTensors;
    const f = t.features(x);
    const logits = t.logits(x);
    expect(tf.memory().numTensors).toBe(before + 2); // no intermediates left behind
    const want = tf.tidy(() => net.forward(x, { mode: 'eval', end: 7 }).output);
    expect(f.shape).toEqual([5, 7]);
    expect(Array.from(f.dataSync())).toEqual(Array.from(want.dataSync()));
    const wantLogits = tf.tidy(() => net.predict(x));
    expect(Array.from(logits.dataSync())).toEqual(Array.from(wantLogits.dataSync()));
    tf.dispose([f, want, logits, wantLogits]);
    t.dispose();
  });

  it('is frozen: no trainable variables and no gradient to the input or anything upstream', () => {
    const t = loadTeacher(net, { tap: 'penultimate' });
    expect(t.net.trainableVariables()).toHaveLength(0);
    expect(net.trainableVariables().length).toBeGreaterThan(0); // the caller's network is untouched
    const gx = tf.grad((xi: tf.Tensor) => tf.sum(t.features(xi)))(x);
    expect(Array.from(gx.dataSync()).every((v) => v === 0)).toBe(true);
    // A student loss that uses teacher features: only the student's variable gets a gradient.
    const w = tf.variable(tf.ones([7]), true, 'student_w_teacher_spec');
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(tf.mul(t.features(x), w), 1))) as tf.Scalar);
    expect(Object.keys(grads)).toEqual(['student_w_teacher_spec']);
    tf.dispose([gx, value, w]);
    tf.dispose(grads);
    t.dispose();
  });

  it('loads an ONNX teacher with the same features', () => {
    const file = path.join(dir, 'teacher.onnx');
    saveOnnx(net, file, { batch: 'dynamic' });
    const t = loadTeacher(file);
    const native = loadTeacher(path.join(dir, 'teacher'));
    expect(t.featureWidth).toBe(7);
    const a = t.features(x);
    const b = native.features(x);
    const av = a.dataSync();
    b.dataSync().forEach((v, i) => expect(av[i]).toBeCloseTo(v, 4));
    tf.dispose([a, b]);
    t.dispose();
    native.dispose();
  });

  it('reports an unknown tap naming the file', () => {
    expect(() => loadTeacher(path.join(dir, 'teacher'), { tap: 'nope' })).toThrow(ConfigError);
    expect(() => loadTeacher(path.join(dir, 'teacher'), { tap: 'nope' })).toThrow(/teacher.*no feature tap named 'nope'/);
  });

  it('rejects inputs of the wrong shape', () => {
    const t = loadTeacher(net);
    const bad = tf.zeros([2, 16]);
    expect(() => t.features(bad)).toThrow(/expects inputs \[N, 4, 4, 1\]/);
    bad.dispose();
    t.dispose();
  });
});
