import * as tf from '@tensorflow/tfjs-core';
import { ARCHITECTURES, architectureOptions } from '../network/architectures';
import { Network } from '../network/network';
import { SeededRng } from '../rng/seeded-rng';
import { matMulT, registerWasmGradients, unregisterWasmGradients, wasmGradientKernels } from './wasm-gradients';
import { CONV_CASES, ConvCase, convOutShape, maxAbsDiff, seededValues } from './__fixtures__/conv-cases';

type Grads = Float32Array[];

/** Gradients of sum(f(inputs) * probe) with respect to every input, as plain arrays. */
function gradsOf(f: (...t: tf.Tensor[]) => tf.Tensor, shapes: number[][], outShape: number[]): Grads {
  return tf.tidy(() => {
    const inputs = shapes.map((s, i) => tf.tensor(seededValues(s, 10 + i), s));
    const probe = tf.tensor(seededValues(outShape, 99), outShape);
    return tf
      .grads((...t: tf.Tensor[]) => tf.sum(tf.mul(f(...t), probe)))(inputs)
      .map((g) => g.dataSync() as Float32Array);
  });
}

interface GradCase {
  name: string;
  f: (...t: tf.Tensor[]) => tf.Tensor;
  shapes: number[][];
  out: number[];
}

const convCase = (c: ConvCase): GradCase => ({
  name: `conv2d ${c.name}`,
  f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad),
  shapes: [c.x, c.w],
  out: convOutShape(c),
});

// conv2dTranspose(dy, w) has the input shape of the conv it transposes.
const transposeCase = (c: ConvCase): GradCase => ({
  name: `conv2dTranspose ${c.name}`,
  f: (dy, w) => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, c.x, c.strides, c.pad as 'same' | 'valid' | number),
  shapes: [convOutShape(c), c.w],
  out: c.x,
});

const matmulCase = (tA: boolean, tB: boolean, batch?: number): GradCase => {
  const [m, k, n] = [5, 7, 3];
  const lead = batch ? [batch] : [];
  return {
    name: `matMul transposeA=${tA} transposeB=${tB}${batch ? ` batch ${batch}` : ''}`,
    f: (a, b) => tf.matMul(a, b, tA, tB),
    shapes: [
      [...lead, ...(tA ? [k, m] : [m, k])],
      [...lead, ...(tB ? [n, k] : [k, n])],
    ],
    out: [...lead, m, n],
  };
};

const poolCase = (x: number[], size: number | [number, number], strides: number | [number, number], pad: 'valid' | 'same' = 'valid'): GradCase => ({
  name: `avgPool ${size} stride ${strides} ${pad} on [${x}]`,
  f: (t) => tf.avgPool(t as tf.Tensor4D, size, strides, pad),
  shapes: [x],
  out: tf.backend_util.computePool2DInfo(x as [number, number, number, number], size, strides, 1, pad).outShape,
});

const CASES: GradCase[] = [
  ...CONV_CASES.map(convCase),
  // conv2dTranspose takes no explicit padding arrays.
  ...CONV_CASES.filter((c) => typeof c.pad === 'string').map(transposeCase),
  ...[false, true].flatMap((tA) => [false, true].map((tB) => matmulCase(tA, tB))),
  matmulCase(true, false, 2),
  matmulCase(false, true, 3),
  poolCase([2, 8, 8, 3], 2, 2),
  poolCase([2, 9, 7, 3], 2, 2),
  poolCase([1, 9, 9, 4], 3, 2),
  poolCase([1, 7, 8, 2], [2, 3], [1, 2]),
  poolCase([1, 7, 7, 2], 3, 2, 'same'), // stock gradient path
];

/** A cnn-small train-mode loss (BatchNorm with batch statistics) and its parameter gradients. */
function networkGrads(): Grads {
  const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small')!.build(
    { shape: [12, 12, 1], classes: 10, mean: [0.5], std: [0.25] },
    architectureOptions.parse({}),
  );
  const net = Network.create(spec, new SeededRng(7));
  try {
    const vars = net.trainableVariables();
    return tf.tidy(() => {
      const x = tf.tensor4d(seededValues([6, 12, 12, 1], 8), [6, 12, 12, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32'), 10);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.forward(x, { mode: 'train' }).output) as tf.Scalar, vars);
      return vars.map((v) => grads[v.name].dataSync() as Float32Array);
    });
  } finally {
    net.dispose();
  }
}

function expectClose(actual: Grads, expected: Grads, tol = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(maxAbsDiff(a, expected[i])).toBeLessThan(tol));
}

describe('wasm gradient overrides', () => {
  // References: the stock gradients on cpu, computed before any override is registered.
  const stockRefs = new Map<string, Grads>();
  let stockNet: Grads;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    for (const c of CASES) stockRefs.set(c.name, gradsOf(c.f, c.shapes, c.out));
    stockNet = networkGrads();
  });

  afterAll(async () => {
    unregisterWasmGradients();
    await tf.setBackend('cpu');
  });

  it('registration replaces each listed gradient, is idempotent and reversible', () => {
    const stock = wasmGradientKernels().map((k) => tf.getGradient(k));
    expect(wasmGradientKernels()).toEqual(expect.arrayContaining(['Conv2D', 'Conv2DBackpropInput', 'BatchMatMul', 'AvgPool']));
    registerWasmGradients();
    const first = wasmGradientKernels().map((k) => tf.getGradient(k));
    first.forEach((g, i) => expect(g).not.toBe(stock[i]));
    registerWasmGradients();
    wasmGradientKernels().forEach((k, i) => expect(tf.getGradient(k)).toBe(first[i]));
    unregisterWasmGradients();
    wasmGradientKernels().forEach((k, i) => expect(tf.getGradient(k)).toBe(stock[i]));
    registerWasmGradients();
  });

  describe.each(['cpu', 'wasm'])('on the %s backend', (backend) => {
    beforeAll(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- registers the backend only when this suite needs it
      if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
      expect(await tf.setBackend(backend)).toBe(true);
      registerWasmGradients();
    });

    it.each(CASES.map((c) => [c.name, c] as const))('%s matches the stock cpu gradient', (name, c) => {
      expect(tf.getBackend()).toBe(backend);
      const before = tf.memory().numTensors;
      const got = gradsOf(c.f, c.shapes, c.out);
      expect(tf.memory().numTensors).toBe(before);
      expectClose(got, stockRefs.get(name)!);
    });

    it('cnn-small train-mode parameter gradients match the stock cpu gradients', () => {
      const before = tf.memory().numTensors;
      const got = networkGrads();
      expect(tf.memory().numTensors).toBe(before);
      expect(got.length).toBe(stockNet.length);
      expectClose(got, stockNet);
    });
  });

  it('matMulT equals matMul with the same transpose flags', () => {
    tf.tidy(() => {
      const a = tf.tensor(seededValues([2, 4, 3], 1), [2, 4, 3]);
      const b = tf.tensor(seededValues([2, 5, 4], 2), [2, 5, 4]);
      expect(maxAbsDiff(matMulT(a, b, true, true).dataSync(), tf.matMul(a, b, true, true).dataSync())).toBeLessThan(1e-6);
    });
  });

  it.each([
    // [a shape (untransposed), b shape (untransposed)]: small x large and large x small take the two orders.
    [
      [2, 3],
      [3, 60],
    ],
    [
      [60, 3],
      [3, 2],
    ],
    [
      [2, 2, 3],
      [2, 3, 40],
    ],
  ])('matMulT matches matMul for every flag combination: %j x %j', (sa, sb) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const a = tf.tensor(seededValues(sa, 3), sa);
      const b = tf.tensor(seededValues(sb, 4), sb);
      const t = (x: tf.Tensor) => tf.transpose(x, x.rank === 3 ? [0, 2, 1] : [1, 0]);
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const aa = ta ? t(a) : a;
          const bb = tb ? t(b) : b;
          const got = matMulT(aa, bb, ta, tb);
          const want = tf.matMul(aa, bb, ta, tb);
          expect(got.shape).toEqual(want.shape);
          expect(maxAbsDiff(got.dataSync(), want.dataSync())).toBeLessThan(1e-5);
        }
      }
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects dilated conv gradients with a clear message', () => {
    tf.tidy(() => {
      const x = tf.ones([1, 6, 6, 1]) as tf.Tensor4D;
      const w = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
      expect(() => tf.grad((t: tf.Tensor) => tf.sum(tf.conv2d(t as tf.Tensor4D, w, 1, 'valid', 'NHWC', 2)))(x)).toThrow(/dilation/);
    });
  });
});
