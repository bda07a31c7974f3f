import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ModelFormatError, Network } from '@certkd/core';
import type { NetworkSpec } from '@certkd/core';
import { exportOnnx, saveOnnx } from './onnx-export';
import { importOnnx, loadOnnx } from './onnx-import';
import { build, makeNet, maxAbsDiff, nhwcToNchw, predictData, randomInput } from '../test-util/nets';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

async function runOrt(bytes: Uint8Array, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

function onnxInput(net: Network, x: Float32Array, batch: number): { data: Float32Array; dims: number[] } {
  const s = net.inputShape;
  if (s.length === 3) return { data: nhwcToNchw(x, batch, s[0], s[1], s[2]), dims: [batch, s[2], s[0], s[1]] };
  return { data: x, dims: [batch, ...s] };
}

const avgpoolSpec: NetworkSpec = {
  inputShape: [9, 9, 2],
  layers: [
    { kind: 'normalize', mean: [0.5, 0.4], std: [0.25, 0.3] },
    { kind: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: true },
    { kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 },
    { kind: 'relu' },
    { kind: 'avgpool', poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
    { kind: 'conv2d', filters: 3, kernelSize: [2, 2], strides: [1, 1], padding: 'same', useBias: false },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'tap', name: 'feat' },
    { kind: 'dense', units: 4, useBias: true },
  ],
};

const cases: { name: string; spec: () => NetworkSpec; fold: boolean }[] = [
  { name: 'mlp', spec: () => build('mlp', [6, 6, 2], { hidden: [16, 12] }), fold: true },
  { name: 'cnn-small with BN', spec: () => build('cnn-small', [12, 12, 3]), fold: true },
  { name: 'cnn7 (pad 1, stride 2)', spec: () => build('cnn7', [6, 6, 3]), fold: false },
  { name: 'avgpool net', spec: () => avgpoolSpec, fold: true },
  {
    name: 'vector-input mlp',
    spec: () => ({
      inputShape: [7],
      layers: [
        { kind: 'normalize', mean: [0.5], std: [0.5] },
        { kind: 'dense', units: 6, useBias: true },
        { kind: 'batchnorm', epsilon: 1e-3, momentum: 0.9 },
        { kind: 'relu' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    }),
    fold: true,
  },
];

describe('exportOnnx against onnxruntime-node', () => {
  const batch = 3;
  for (const [ci, c] of cases.entries()) {
    it(`${c.name}: same logits as Network.predict (batch 1 and dynamic), and round trip`, async () => {
      const net = makeNet(c.spec(), 100 + ci);
      const x = randomInput([batch, ...net.inputShape], 7 + ci);
      const want = predictData(net, x, batch);
      expect(Math.max(...Array.from(want, Math.abs))).toBeGreaterThan(1e-3); // not a degenerate network

      const before = tf.memory().numTensors;
      const dyn = exportOnnx(net, { batch: 'dynamic' });
      expect(tf.memory().numTensors).toBe(before);
      const { data, dims } = onnxInput(net, x, batch);
      const got = await runOrt(dyn, data, dims);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);

      // batch 1: one sample at a time
      const one = exportOnnx(net, { batch: 1 });
      const per = want.length / batch;
      const first = onnxInput(net, x.slice(0, x.length / batch), 1);
      expect(maxAbsDiff(await runOrt(one, first.data, first.dims), want.slice(0, per))).toBeLessThan(1e-4);

      if (c.fold) {
        const folded = exportOnnx(net, { batch: 'dynamic', foldNormalize: true });
        expect(maxAbsDiff(await runOrt(folded, data, dims), want)).toBeLessThan(1e-4);
      } else if (net.layers.some((l) => l.kind === 'normalize')) {
        expect(() => exportOnnx(net, { foldNormalize: true })).toThrow(ConfigError);
      }

      // round trip
      const n0 = tf.memory().numTensors;
      const back = importOnnx(dyn, c.name);
      expect(back.inputShape).toEqual(net.inputShape);
      expect(maxAbsDiff(predictData(back, x, batch), want)).toBeLessThan(1e-4);
      back.dispose();
      expect(tf.memory().numTensors).toBe(n0);
      net.dispose();
    });
  }

  it('records the opset and rejects unsupported opsets', async () => {
    const net = makeNet(build('mlp', [4, 4, 1], { hidden: [5] }), 1);
    const bytes = exportOnnx(net, { opset: 11 });
    const { onnx } = await import('onnx-proto');
    const m = onnx.ModelProto.decode(bytes);
    expect(m.opsetImport.map((o) => Number(o.version))).toEqual([11]);
    expect(Number(onnx.ModelProto.decode(exportOnnx(net)).opsetImport[0].version)).toBe(13);
    expect(() => exportOnnx(net, { opset: 7 })).toThrow(/opset 7/);
    const x = randomInput([1, 4, 4, 1], 3);
    expect(maxAbsDiff(await runOrt(bytes, x, [1, 1, 4, 4]), predictData(net, x, 1))).toBeLessThan(1e-4);
    net.dispose();
  });

  it('saveOnnx / loadOnnx through a file', () => {
    const net = makeNet(build('cnn-small', [10, 10, 1]), 5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-onnx-'));
    const file = path.join(dir, 'net.onnx');
    saveOnnx(net, file, { batch: 'dynamic' });
    const back = loadOnnx(file);
    const x = randomInput([2, 10, 10, 1], 11);
    expect(maxAbsDiff(predictData(back, x, 2), predictData(net, x, 2))).toBeLessThan(1e-4);
    back.dispose();
    net.dispose();
    fs.rmSync(dir, { recursive: true });
  });
});

describe('exportOnnx refuses non-finite weights', () => {
  it('NaN weights, and a BatchNorm whose folding overflows float32, throw ModelFormatError naming the initializer', () => {
    const net = makeNet(build('cnn-small', [10, 10, 1]), 5);
    const kernel = net.param(1, 'kernel');
    const vals = kernel.dataSync().slice();
    vals[3] = NaN;
    kernel.assign(tf.tensor(vals, kernel.shape));
    expect(() => exportOnnx(net)).toThrow(ModelFormatError);
    expect(() => exportOnnx(net)).toThrow(
      /initializer 'layers.1.weight' would hold NaN at index \d+; refusing to export a network whose weights are not finite/,
    );
    net.dispose();
    const bn = makeNet(build('cnn-small', [10, 10, 1]), 6);
    const i = bn.layers.findIndex((l) => l.kind === 'batchnorm');
    const gamma = bn.param(i, 'gamma');
    gamma.assign(tf.fill(gamma.shape, 3e38));
    bn.param(i, 'movingVariance').assign(tf.fill(gamma.shape, 0));
    expect(() => exportOnnx(bn)).toThrow(/would hold (-)?Infinity/);
    bn.dispose();
  });
});
