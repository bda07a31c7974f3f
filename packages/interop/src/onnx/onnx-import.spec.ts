import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelFormatError } from '@certkd/core';
import { onnx } from 'onnx-proto';
import { importOnnx, importOnnxModel, loadOnnxModel, onnxToNetworkOrder } from './onnx-import';
import { exportOnnx } from './onnx-export';
import { build, makeNet, maxAbsDiff, predictData, randomInput } from '../test-util/nets';
import { describeWithData, sharedPath } from '../../../../tools/jest/shared-data.cjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

const VNNCOMP = sharedPath('vnncomp');
const describeData = (name: string, fn: () => void) => describeWithData(VNNCOMP, name, fn);

async function runOrt(bytes: Uint8Array, data: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

describeData('importOnnx on VNN-COMP 2021 networks (vs onnxruntime-node)', () => {
  const nets: { file: string; layout: string; lo: number; hi: number; dense: number }[] = [
    { file: '2021/mnistfc/mnist-net_256x2.onnx', layout: 'flat', lo: 0, hi: 1, dense: 3 },
    { file: '2021/eran/nets/mnist_relu_9_200.onnx', layout: 'nchw', lo: 0, hi: 1, dense: 9 },
    { file: '2021/oval21/nets/cifar_base_kw.onnx', layout: 'nchw', lo: -2, hi: 2, dense: 2 },
    { file: '2021/oval21/nets/cifar_wide_kw.onnx', layout: 'nchw', lo: -2, hi: 2, dense: 2 },
    { file: '2021/oval21/nets/cifar_deep_kw.onnx', layout: 'nchw', lo: -2, hi: 2, dense: 2 },
    { file: '2021/marabou-cifar10/nets/cifar10_small.onnx', layout: 'nhwc', lo: 0, hi: 1, dense: 3 },
  ];
  for (const [i, n] of nets.entries()) {
    it(`${n.file}: same outputs on random inputs`, async () => {
      const file = path.join(VNNCOMP, n.file);
      const bytes = fs.readFileSync(file);
      const before = tf.memory().numTensors;
      const { network, input } = loadOnnxModel(file);
      expect(input.layout).toBe(n.layout);
      expect(network.layers.filter((l) => l.kind === 'dense')).toHaveLength(n.dense);
      const dims = input.onnxShape.map((d) => (d < 0 ? 1 : d));
      let worst = 0;
      let scale = 0;
      for (let s = 0; s < 3; s++) {
        const x = randomInput(dims, 1000 * i + s, n.lo, n.hi);
        const want = await runOrt(bytes, x, dims);
        const got = predictData(network, onnxToNetworkOrder(x, input), 1);
        worst = Math.max(worst, maxAbsDiff(got, want));
        scale = Math.max(scale, ...Array.from(want, Math.abs));
      }
      if (process.env.CERTKD_REPORT) console.log(n.file, 'max abs diff', worst, 'max |y|', scale); // eslint-disable-line no-console
      expect(scale).toBeGreaterThan(1e-3);
      expect(worst).toBeLessThan(1e-4 * Math.max(1, scale));
      network.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('mnist_relu_9_200 keeps its Sub/Div normalisation and final ReLU', () => {
    const net = loadOnnxModel(path.join(VNNCOMP, '2021/eran/nets/mnist_relu_9_200.onnx')).network;
    expect(net.inputShape).toEqual([28, 28, 1]);
    expect(net.layers[0].kind).toBe('normalize');
    expect(net.layers.filter((l) => l.kind === 'normalize')).toHaveLength(1);
    expect(net.layers[net.layers.length - 1].kind).toBe('relu');
    net.dispose();
  });
});

/** A hand-built model for error cases. */
function model(nodes: onnx.INodeProto[], inits: onnx.ITensorProto[] = [], inputDims = [1, 4]): Uint8Array {
  const vi = (name: string, dims: number[]): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: nodes, initializer: inits, input: [vi('x', inputDims)], output: [vi('y', [1, 2])] },
  }).finish();
}
const f32 = (name: string, dims: number[], vals: number[]): onnx.ITensorProto => ({ name, dims, dataType: 1, floatData: vals });
/** The ModelFormatError importing `bytes` throws (fails the test if it throws none or another). */
function importError(bytes: Uint8Array, source: string): ModelFormatError {
  let err: unknown;
  try {
    importOnnx(bytes, source);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelFormatError);
  return err as ModelFormatError;
}

describe('importOnnx errors', () => {
  const gemmInits = [f32('W', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]), f32('b', [2], [0.5, -0.5])];

  it('a valid hand-built model imports (control for the error cases)', () => {
    const net = importOnnx(
      model([{ opType: 'Gemm', name: 'fc', input: ['x', 'W', 'b'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] }], gemmInits),
    );
    const y = predictData(net, Float32Array.of(1, 0, 0, 1), 1);
    expect(Array.from(y)).toEqual([5.5, 12.5]);
    net.dispose();
  });

  it('truncated bytes throw ModelFormatError', () => {
    const net = makeNet(build('cnn-small', [10, 10, 1]), 3);
    const bytes = exportOnnx(net);
    net.dispose();
    for (const len of [7, 100, Math.floor(bytes.length / 2), bytes.length - 3]) {
      expect(() => importOnnx(bytes.slice(0, len), 'cut.onnx')).toThrow(ModelFormatError);
    }
    expect(() => importOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), 'junk.onnx')).toThrow(/junk.onnx/);
  });

  it('an unknown op names the node and the op type', () => {
    const bytes = model(
      [
        { opType: 'Gemm', name: 'fc', input: ['x', 'W', 'b'], output: ['h'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
        { opType: 'Softplus', name: 'act1', input: ['h'], output: ['y'] },
      ],
      gemmInits,
    );
    const e = importError(bytes, 'm.onnx');
    expect(e.node).toContain('act1');
    expect(e.node).toContain('#1');
    expect(e.message).toContain('Softplus');
    expect(e.message).toContain('m.onnx');
  });

  it('reports every unsupported op of a model at once, with the nodes', () => {
    const bytes = model(
      [
        { opType: 'Gemm', name: 'fc', input: ['x', 'W', 'b'], output: ['h'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
        { opType: 'Softplus', name: 'act1', input: ['h'], output: ['h2'] },
        { opType: 'LeakyRelu', name: 'act2', input: ['h2'], output: ['h3'] },
        { opType: 'Softplus', name: 'act3', input: ['h3'], output: ['h4'] },
        { opType: 'Relu', name: 'r', input: ['h4'], output: ['h5'] },
        { opType: 'Foo', domain: 'com.example', name: 'custom', input: ['h5'], output: ['y'] },
      ],
      gemmInits,
    );
    const e = importError(bytes, 'm.onnx');
    expect(e.message).toContain(
      "unsupported op types 'Softplus' (nodes #1 'act1', #3 'act3'), 'LeakyRelu' (node #2 'act2'), 'com.example:Foo' (node #5 'custom')",
    );
    expect(e.message).toContain('m.onnx');
    expect(e.node).toBe("#1 'act1' (Softplus), #2 'act2' (LeakyRelu), #3 'act3' (Softplus), #5 'custom' (com.example:Foo)");
  });

  it('unsupported attributes, shapes and branching graphs are named', () => {
    const conv = model(
      [{ opType: 'Conv', name: 'c0', input: ['x', 'K'], output: ['y'], attribute: [{ name: 'group', type: 2, i: 2 }] }],
      [f32('K', [2, 1, 1, 1], [1, 1])],
      [1, 2, 3, 3],
    );
    expect(() => importOnnx(conv)).toThrow(/c0.*Conv.*group 2/);
    const wrongShape = model([{ opType: 'Gemm', name: 'fc', input: ['x', 'W'], output: ['y'] }], [f32('W', [3, 2], [1, 2, 3, 4, 5, 6])]);
    expect(() => importOnnx(wrongShape)).toThrow(/fc.*Gemm.*inner dimension 3/);
    const branch = model(
      [
        { opType: 'Relu', name: 'r', input: ['x'], output: ['h'] },
        { opType: 'Add', name: 'res', input: ['h', 'x'], output: ['y'] },
      ],
      [],
    );
    expect(() => importOnnx(branch)).toThrow(/res.*Add.*chain/);
    const missing = model([{ opType: 'Gemm', name: 'fc', input: ['x', 'W', 'nob'], output: ['y'] }], [gemmInits[0]]);
    expect(() => importOnnx(missing)).toThrow(ModelFormatError);
  });

  it('handles MatMul+Add, Reshape from a Constant, Mul/Sub normalisation and Identity', () => {
    // y = relu(((x - 1) * 2) @ W + b) with x given as [1, 2, 2] (a vector input of rank 3)
    const bytes = model(
      [
        { opType: 'Constant', name: 'k', output: ['shape'], attribute: [{ name: 'value', type: 4, t: { dims: [2], dataType: 7, int64Data: [1, -1] } }] },
        { opType: 'Sub', name: 's', input: ['x', 'one'], output: ['a'] },
        { opType: 'Mul', name: 'm', input: ['two', 'a'], output: ['b'] },
        { opType: 'Reshape', name: 'r', input: ['b', 'shape'], output: ['c'] },
        { opType: 'MatMul', name: 'mm', input: ['c', 'W'], output: ['d'] },
        { opType: 'Add', name: 'ad', input: ['d', 'bias'], output: ['e'] },
        { opType: 'Identity', name: 'id', input: ['e'], output: ['y'] },
      ],
      [f32('one', [], [1]), f32('two', [1], [2]), f32('W', [4, 2], [1, 0, 0, 1, 1, 0, 0, 1]), f32('bias', [2], [0.25, 0.5])],
      [1, 2, 2],
    );
    const { network, input } = importOnnxModel(bytes);
    expect(input.layout).toBe('flat');
    expect(network.layers.map((l) => l.kind)).toEqual(['normalize', 'dense']);
    const y = predictData(network, Float32Array.of(1, 2, 3, 4), 1);
    // (x-1)*2 = [0, 2, 4, 6]; W sums entries 0+2 and 1+3
    expect(Array.from(y)).toEqual([4.25, 8.5]);
    network.dispose();
  });

  it('folds a PyTorch-style x.view(x.size(0), -1) shape computation', () => {
    const i64 = (name: string, dims: number[], vals: number[]): onnx.ITensorProto => ({ name, dims, dataType: 7, int64Data: vals });
    const bytes = model(
      [
        { opType: 'Shape', name: 'sh', input: ['x'], output: ['s'] },
        { opType: 'Gather', name: 'g', input: ['s', 'zero'], output: ['b'], attribute: [{ name: 'axis', type: 2, i: 0 }] },
        { opType: 'Unsqueeze', name: 'u', input: ['b', 'zero1'], output: ['b1'] },
        { opType: 'Concat', name: 'cat', input: ['b1', 'minus1'], output: ['target'], attribute: [{ name: 'axis', type: 2, i: 0 }] },
        { opType: 'Reshape', name: 'r', input: ['x', 'target'], output: ['flat'] },
        { opType: 'MatMul', name: 'mm', input: ['flat', 'W'], output: ['y'] },
      ],
      [i64('zero', [], [0]), i64('zero1', [1], [0]), i64('minus1', [1], [-1]), f32('W', [4, 2], [1, 0, 0, 1, 1, 0, 0, 1])],
      [1, 2, 2],
    );
    const net = importOnnx(bytes);
    expect(Array.from(predictData(net, Float32Array.of(1, 2, 3, 4), 1))).toEqual([4, 6]);
    net.dispose();
  });
});

describe('importOnnx refuses impossible parameters', () => {
  const bnModel = (variance: number[], epsilon = 1e-5) =>
    model(
      [
        {
          opType: 'BatchNormalization',
          name: 'bn',
          input: ['x', 'g', 'be', 'mu', 'var'],
          output: ['h'],
          attribute: [{ name: 'epsilon', type: 1, f: epsilon }],
        },
        { opType: 'Gemm', name: 'fc', input: ['h', 'W'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
      ],
      [
        f32('g', [4], [1, 1, 1, 1]),
        f32('be', [4], [0, 0, 0, 0]),
        f32('mu', [4], [0, 0, 0, 0]),
        f32('var', [4], variance),
        f32('W', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]),
      ],
    );

  it('a BatchNorm with valid parameters imports (control)', () => {
    importOnnx(bnModel([1, 2, 0.5, 0])).dispose();
  });

  it('NaN or Inf in an initializer names the initializer', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const bytes = model(
        [{ opType: 'Gemm', name: 'fc', input: ['x', 'W'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] }],
        [f32('W', [2, 4], [1, 2, 3, bad, 5, 6, 7, 8])],
      );
      expect(() => importOnnx(bytes, 'nan.onnx')).toThrow(new ModelFormatError(`initializer 'W' holds ${bad} at index 3; weights must be finite`, 'nan.onnx'));
    }
  });

  it('NaN in a Constant node, or parameters that overflow, name the node', () => {
    const constNan = model([
      { opType: 'Constant', name: 'k', output: ['W'], attribute: [{ name: 'value', type: 4, t: f32('', [2, 4], [1, NaN, 3, 4, 5, 6, 7, 8]) }] },
      { opType: 'Gemm', name: 'fc', input: ['x', 'W'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
    ]);
    expect(() => importOnnx(constNan)).toThrow(/node #0 'k' \(Constant\): the constant 'W' holds NaN at index 1/);
    const overflow = model(
      [
        {
          opType: 'Gemm',
          name: 'fc',
          input: ['x', 'W'],
          output: ['y'],
          attribute: [
            { name: 'transB', type: 2, i: 1 },
            { name: 'alpha', type: 1, f: 3e38 },
          ],
        },
      ],
      [f32('W', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])],
    );
    expect(() => importOnnx(overflow)).toThrow(/node #0 'fc' \(Gemm\): the dense layer's kernel would hold Infinity at index 1/);
  });

  it('a BatchNorm with a negative variance or a negative epsilon names the node', () => {
    expect(() => importOnnx(bnModel([1, -0.5, 1, 1]), 'bn.onnx')).toThrow(
      new ModelFormatError("BatchNormalization variance 'var' is negative (-0.5) at channel 1", 'bn.onnx', "#0 'bn' (BatchNormalization)"),
    );
    expect(() => importOnnx(bnModel([1, 1, 1, 1], -1e-3))).toThrow(
      /'bn' \(BatchNormalization\): BatchNormalization epsilon -0.001\d* must be a finite non-negative number/,
    );
    expect(() => importOnnx(bnModel([1, 0, 1, 1], 0))).toThrow(/variance 'var' plus epsilon is 0 at channel 1/);
  });

  it('huge declared dims or input shapes are refused before anything is allocated', () => {
    const huge = model(
      [{ opType: 'Gemm', name: 'fc', input: ['x', 'W'], output: ['y'] }],
      [{ name: 'W', dims: [1e6, 1e6], dataType: 1, rawData: new Uint8Array(8) }],
    );
    expect(() => importOnnx(huge)).toThrow(/initializer 'W': tensor 'W' declares 1000000000000 elements/);
    const bigInput = model([{ opType: 'Relu', name: 'r', input: ['x'], output: ['y'] }], [], [1, 3, 100000, 100000]);
    expect(() => importOnnx(bigInput)).toThrow(/graph input has shape \[1,3,100000,100000\]: 30000000000 elements per example/);
    const bigPads = model(
      [{ opType: 'Conv', name: 'c', input: ['x', 'K'], output: ['y'], attribute: [{ name: 'pads', type: 7, ints: [1e5, 1e5, 1e5, 1e5] }] }],
      [f32('K', [1, 1, 1, 1], [1])],
      [1, 1, 2, 2],
    );
    expect(() => importOnnx(bigPads)).toThrow(/'c' \(Conv\): the output \[N, 1,200002,200002\] has more than 16777216 elements/);
  });
});
