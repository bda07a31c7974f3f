/**
 * onnxruntime-node builds output tensors with the main realm's typed arrays:
 * @jest-environment ../../tools/jest/onnxruntime-environment.cjs
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmGradients, unregisterWasmGradients } from '../wasm-gradients';
import { seededValues } from '../__fixtures__/conv-cases';
import { loadBackend } from '../backend-loader';
import { calibrateOrt } from './calibrate';
import { encodeOnnxModel } from './onnx-graph';
import {
  DEFAULT_ORT_MIN_FLOPS,
  ORT_KERNELS,
  ortKernelCounts,
  ortKernelsActive,
  ortMinFlops,
  ortWants,
  registerOrtKernels,
  resetOrtKernelCounts,
  setOrtConvMethod,
  setOrtFilterGradMethod,
  setOrtMinFlops,
  unregisterOrtKernels,
} from './ort-kernels';
import { loadOrt, ortSessionStats, releaseOrtSessions, runOrt, setOrtMaxSessions, setOrtThreads } from './ort-runtime';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  /** Kernel that must have run on onnxruntime. */
  kernel: string;
  shapes: number[][];
  /** Returns the tensors to compare (each compared separately). */
  f: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

const convCases = (): Case[] => {
  const out: Case[] = [];
  const geoms: { k: [number, number]; s: number | [number, number]; pad: Pad; d?: number }[] = [
    { k: [3, 3], s: 1, pad: 'same' },
    { k: [3, 3], s: 2, pad: 'same' },
    { k: [4, 3], s: 2, pad: 'valid' },
    { k: [3, 2], s: [2, 1], pad: 'valid' },
    { k: [2, 3], s: [1, 2], pad: 'same' },
    {
      k: [3, 3],
      s: 2,
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
    { k: [3, 3], s: 1, pad: 'same', d: 2 },
    { k: [2, 3], s: 1, pad: 'valid', d: 2 },
  ];
  for (const n of [1, 7]) {
    for (const g of geoms) {
      const x = [n, 9, 11, 3];
      const w = [g.k[0], g.k[1], 3, 5];
      const label = `k${g.k.join('x')} s${g.s} ${typeof g.pad === 'string' ? g.pad : JSON.stringify(g.pad)}${g.d ? ` dilation ${g.d}` : ''} batch ${n}`;
      out.push({
        name: `Conv2D ${label}`,
        kernel: 'Conv2D',
        shapes: [x, w],
        f: (a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, g.s, g.pad, 'NHWC', g.d ?? 1),
      });
      if (!g.d) {
        // Gradients (dilation 1 only): the conv2d gradient routes to Conv2DBackpropInput/Filter.
        out.push({
          name: `Conv2D gradients ${label}`,
          kernel: 'Conv2DBackpropFilter',
          shapes: [x, w],
          f: (a, b) => {
            const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, g.s, g.pad);
            const probe = tf.tensor(seededValues(y.shape, 5), y.shape);
            return tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, g.s, g.pad), probe)))([a, b]);
          },
        });
        if (typeof g.pad === 'string') {
          const info = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], w as [number, number, number, number], g.s, 1, g.pad);
          out.push({
            name: `Conv2DBackpropInput (conv2dTranspose) ${label}`,
            kernel: 'Conv2DBackpropInput',
            shapes: [info.outShape, w],
            f: (dy, b) =>
              tf.conv2dTranspose(dy as tf.Tensor4D, b as tf.Tensor4D, x as [number, number, number, number], g.s as [number, number], g.pad as 'same'),
          });
        }
        for (const act of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
          if (n === 7 && act !== 'prelu') continue;
          out.push({
            name: `FusedConv2D ${act} ${label}`,
            kernel: 'FusedConv2D',
            shapes: [x, w, [5], [5]],
            f: (a, b, bias, alpha) =>
              tf.fused.conv2d({
                x: a as tf.Tensor4D,
                filter: b as tf.Tensor4D,
                strides: g.s,
                pad: g.pad,
                bias,
                activation: act,
                preluActivationWeights: act === 'prelu' ? alpha : undefined,
                leakyreluAlpha: 0.3,
              }),
          });
        }
      }
    }
  }
  return out;
};

const matMulCases = (): Case[] => {
  const out: Case[] = [];
  const [m, k, n] = [5, 7, 3];
  const shape = (lead: number[], t: boolean, r: number, c: number) => [...lead, ...(t ? [c, r] : [r, c])];
  for (const [la, lb] of [
    [[], []],
    [[7], [7]],
    [[1], [7]],
    [
      [2, 3],
      [2, 3],
    ],
  ] as number[][][]) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const sa = shape(la, tA, m, k);
        const sb = shape(lb, tB, k, n);
        const label = `[${sa}] x [${sb}] transposeA=${tA} transposeB=${tB}`;
        out.push({ name: `BatchMatMul ${label}`, kernel: 'BatchMatMul', shapes: [sa, sb], f: (a, b) => tf.matMul(a, b, tA, tB) });
        // tfjs's matMul gradient does not reduce broadcast batch axes: equal batches only.
        if (la.join() === lb.join())
          out.push({
            name: `BatchMatMul gradients ${label}`,
            kernel: 'BatchMatMul',
            shapes: [sa, sb],
            f: (a, b) => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q, tA, tB))))([a, b]),
          });
        out.push({
          name: `_FusedMatMul bias+relu ${label}`,
          kernel: '_FusedMatMul',
          shapes: [sa, sb, [n]],
          f: (a, b, bias) => tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias, activation: 'relu' }),
        });
      }
    }
  }
  out.push({
    name: '_FusedMatMul prelu with per-column slopes',
    kernel: '_FusedMatMul',
    shapes: [[6, 4], [4, 9], [9], [9]],
    f: (a, b, bias, alpha) => tf.fused.matMul({ a, b, bias, activation: 'prelu', preluActivationWeights: alpha }),
  });
  return out;
};

const CASES = [...convCases(), ...matMulCases()];

const inputsOf = (c: Case) => c.shapes.map((s, i) => tf.tensor(seededValues(s, 20 + i), s));

function evaluate(c: Case): Float32Array[] {
  return tf.tidy(() => {
    const r = c.f(...inputsOf(c));
    return (Array.isArray(r) ? r : [r]).map((t) => t.dataSync() as Float32Array);
  });
}

/** max |a - b| <= 1e-4 * max(1, max |b|): relative to the reference's scale. */
function expectClose(got: Float32Array[], want: Float32Array[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i];
    expect(g.length).toBe(w.length);
    let diff = 0;
    let scale = 1;
    for (let j = 0; j < w.length; j++) {
      diff = Math.max(diff, Math.abs(g[j] - w[j]));
      scale = Math.max(scale, Math.abs(w[j]));
    }
    expect(diff).toBeLessThanOrEqual(1e-4 * scale);
  });
}

const available = loadOrt();
// onnxruntime-node is optional for users but installed for development: under CI a failed load fails.
if (!available.ok && process.env.CI === 'true') throw new Error(`onnxruntime-node did not load under CI: ${JSON.stringify(available)}`);
const describeOrt = available.ok ? describe : describe.skip;

describe('ONNX graph writer', () => {
  it('encodes a model onnxruntime accepts and runs', () => {
    const graph = {
      inputs: [{ name: 'i0', shape: [2, 3] }],
      outputs: [{ name: 'y', shape: [2, 3] }],
      nodes: [{ op: 'LeakyRelu', inputs: ['i0'], outputs: ['y'], attrs: { alpha: { float: 0.5 } } }],
    };
    // ModelProto starts with ir_version (field 1, varint) = 8.
    expect(Array.from(encodeOnnxModel(graph).slice(0, 2))).toEqual([0x08, 8]);
    if (!available.ok) return;
    const out = new Float32Array(6);
    runOrt('spec|leaky', () => graph, [{ data: Float32Array.from([-2, -1, 0, 1, 2, 3]), shape: [2, 3] }], { data: out, shape: [2, 3] });
    expect(Array.from(out)).toEqual([-1, -0.5, 0, 1, 2, 3]);
  });

  it('refuses a non-integer attribute given as an int', () => {
    expect(() => encodeOnnxModel({ inputs: [], outputs: [], nodes: [{ op: 'X', inputs: [], outputs: [], attrs: { a: 0.5 } }] })).toThrow(/not an integer/);
  });
});

describeOrt('onnxruntime kernels on the wasm backend', () => {
  const refs = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerWasmGradients();
    for (const c of CASES) refs.set(c.name, evaluate(c));
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- registers the backend only when this suite needs it
    require('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend('wasm')).toBe(true);
    registerOrtKernels();
    setOrtMinFlops(0);
    setOrtThreads(2);
  });

  afterAll(async () => {
    unregisterOrtKernels();
    unregisterWasmGradients();
    setOrtMinFlops(DEFAULT_ORT_MIN_FLOPS);
    await tf.setBackend('cpu');
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s matches the cpu backend', (_name, c) => {
    expect(ortKernelsActive()).toBe(true);
    resetOrtKernelCounts();
    const before = tf.memory().numTensors;
    const got = evaluate(c);
    expect(tf.memory().numTensors).toBe(before);
    expect(ortKernelCounts()[c.kernel]?.ort ?? 0).toBeGreaterThan(0);
    expectClose(got, refs.get(c.name)!);
  });

  it.each(['conv', 'patches'] as const)("the '%s' Conv2D formulation matches too", (m) => {
    setOrtConvMethod(m);
    try {
      for (const c of CASES.filter((k) => k.kernel === 'Conv2D' || k.kernel === 'FusedConv2D')) {
        resetOrtKernelCounts();
        const before = tf.memory().numTensors;
        expectClose(evaluate(c), refs.get(c.name)!);
        expect(tf.memory().numTensors).toBe(before);
        expect(ortKernelCounts()[c.kernel]?.ort ?? 0).toBeGreaterThan(0);
      }
    } finally {
      setOrtConvMethod('conv');
    }
  });

  it("the 'patches' Conv2DBackpropFilter formulation matches too", () => {
    setOrtFilterGradMethod('patches');
    try {
      for (const c of CASES.filter((k) => k.name.startsWith('Conv2D gradients'))) {
        resetOrtKernelCounts();
        expectClose(evaluate(c), refs.get(c.name)!);
        expect(ortKernelCounts().Conv2DBackpropFilter?.ort ?? 0).toBeGreaterThan(0);
      }
    } finally {
      setOrtFilterGradMethod('conv');
    }
  });

  it('keeps calls below the FLOP threshold on the wasm kernels', () => {
    setOrtMinFlops(1e12);
    try {
      resetOrtKernelCounts();
      const c = CASES.find((k) => k.kernel === 'Conv2D')!;
      expectClose(evaluate(c), refs.get(c.name)!);
      expect(ortKernelCounts().Conv2D).toEqual({ ort: 0, wasm: 1 });
      expect(ortWants(1e11)).toBe(false);
      // Gradients below the threshold use the wasm formulations, never the missing wasm kernel.
      const g = CASES.find((k) => k.name.startsWith('Conv2D gradients'))!;
      resetOrtKernelCounts();
      expectClose(evaluate(g), refs.get(g.name)!);
      expect(ortKernelCounts().Conv2DBackpropFilter).toBeUndefined();
    } finally {
      setOrtMinFlops(0);
    }
  });

  it('bounds its session cache (LRU) and releases sessions', () => {
    setOrtMaxSessions(3);
    try {
      for (const c of CASES.filter((k) => k.kernel === 'BatchMatMul').slice(0, 8)) evaluate(c);
      expect(ortSessionStats().cached).toBeLessThanOrEqual(3);
      expect(ortSessionStats().evicted).toBeGreaterThan(0);
    } finally {
      setOrtMaxSessions(96);
    }
    releaseOrtSessions();
    expect(ortSessionStats().cached).toBe(0);
  });

  it('unregistering restores the stock wasm kernels', () => {
    unregisterOrtKernels();
    try {
      expect(ortKernelsActive()).toBe(false);
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
      resetOrtKernelCounts();
      const c = CASES.find((k) => k.kernel === 'BatchMatMul')!;
      expectClose(evaluate(c), refs.get(c.name)!);
      expect(ortKernelCounts()).toEqual({});
    } finally {
      registerOrtKernels();
    }
    for (const k of ORT_KERNELS) expect(tf.getKernel(k, 'wasm')).toBeDefined();
  });
});

describeOrt('loadBackend with onnxruntime', () => {
  afterAll(async () => {
    unregisterOrtKernels();
    unregisterWasmGradients();
    await tf.setBackend('cpu');
  });

  it("'onnxruntime' runs the wasm backend with the onnxruntime kernels and says so", async () => {
    const info = await loadBackend('onnxruntime');
    expect(info.name).toBe('onnxruntime');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.detail).toMatch(/onnxruntime-node \d+\.\d+/);
    expect(ortKernelsActive()).toBe(true);
    expect(ortMinFlops()).toBeGreaterThan(0);
    // Idempotent.
    expect(await loadBackend('onnxruntime')).toBe(info);
  });

  it("'wasm' afterwards restores the stock kernels", async () => {
    const info = await loadBackend('wasm');
    expect(info.name).toBe('wasm');
    expect(ortKernelsActive()).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
  });

  it('falls back to wasm and says why when onnxruntime-node cannot be used', async () => {
    process.env.CERTKD_ORT_DISABLE = '1';
    try {
      const info = await loadBackend('onnxruntime');
      expect(info.name).toBe('wasm');
      expect(info.detail).toMatch(/onnxruntime not used: disabled by CERTKD_ORT_DISABLE/);
      expect(info.skipped).toEqual(['onnxruntime: disabled by CERTKD_ORT_DISABLE']);
      expect(ortKernelsActive()).toBe(false);
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
      // The fallback is remembered for the same choice.
      expect(await loadBackend('onnxruntime')).toBe(info);
    } finally {
      delete process.env.CERTKD_ORT_DISABLE;
    }
  });

  it('calibrates once per process: one conv timed on both paths', () => {
    registerOrtKernels();
    const c = calibrateOrt();
    expect(c.wasmMs).toBeGreaterThan(0);
    expect(c.ortMs).toBeGreaterThan(0);
    expect(c.summary).toMatch(/ms on onnxruntime \(\d+ threads?\) vs [\d.]+ ms on wasm/);
    expect(calibrateOrt()).toBe(c);
    // The threshold is restored after calibrating.
    expect(ortMinFlops()).toBe(DEFAULT_ORT_MIN_FLOPS);
  });
});
