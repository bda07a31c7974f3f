// A fault of the compute backend (a WebAssembly trap such as "memory access out of bounds")
// ends one instance as `error` and leaves the next instance unaffected (issue #17).
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { itWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

const FAULT = 'memory access out of bounds';

jest.mock('./vnnlib', () => {
  const actual = jest.requireActual('./vnnlib');
  return {
    ...actual,
    verifyVnnlib: (onnx: string, vnnlib: string, opts: unknown) => {
      if (vnnlib.includes('FAULT')) {
        // what a trapped wasm heap looks like from JavaScript
        const Trap = (globalThis as unknown as { WebAssembly: { RuntimeError: new (m: string) => Error } }).WebAssembly.RuntimeError;
        throw new Trap(FAULT);
      }
      return actual.verifyVnnlib(onnx, vnnlib, opts);
    },
  };
});

import { runVnnlibTaskSafely } from './batch';
import { backendFaulted, isBackendFault, markBackendFault, rebuildBackend } from './backend-health';
import { verifyProperty } from './verify';

const TEST_DIR = sharedPath('vnncomp', '2021', 'test');
const NET = path.join(TEST_DIR, 'test_sat.onnx');
const PROP = path.join(TEST_DIR, 'test_prop.vnnlib');

describe('backend faults', () => {
  it('recognises wasm traps (and nothing else) as backend faults', () => {
    const Trap = (globalThis as unknown as { WebAssembly: { RuntimeError: new (m: string) => Error } }).WebAssembly.RuntimeError;
    expect(isBackendFault(new Trap('table index is out of bounds'))).toBe(true);
    expect(isBackendFault(new Error('memory access out of bounds'))).toBe(true);
    expect(isBackendFault(new Error('box 0 is empty at input 3'))).toBe(false);
  });

  it('rebuildBackend gives a fresh engine on the same backend: earlier tensors are forgotten, new ones work', async () => {
    const name = tf.getBackend();
    const stale = tf.tensor1d([1, 2, 3]);
    markBackendFault();
    await rebuildBackend();
    expect(backendFaulted()).toBe(false);
    expect(tf.getBackend()).toBe(name);
    expect(tf.memory().numTensors).toBe(0);
    expect(stale).toBeDefined();
    const t = tf.add(tf.tensor1d([1, 2]), 1);
    expect(Array.from(t.dataSync())).toEqual([2, 3]);
    t.dispose();
  });

  itWithData([NET, PROP], 'an instance that faults is recorded as error with the message; the next instance in the thread runs normally', async () => {
    const faulted = await runVnnlibTaskSafely({ key: 'a', onnx: NET, vnnlib: path.join(TEST_DIR, 'FAULT.vnnlib'), timeoutS: 10 });
    expect(faulted.result).toBe('error');
    expect(String((faulted.verdict as { message: string }).message)).toMatch(/backend fault: memory access out of bounds; the backend was rebuilt/);
    expect(backendFaulted()).toBe(false);
    const next = await runVnnlibTaskSafely({ key: 'b', onnx: NET, vnnlib: PROP, timeoutS: 10 });
    expect(next.result).toBe('sat');
    expect(Number(next.verdict.time_s)).toBeLessThan(10);
  });

  it('a trap inside the verifier becomes an error verdict and marks the backend for rebuilding', async () => {
    const net = Network.create({ inputShape: [2], layers: [{ kind: 'dense', units: 3, useBias: true }] }, new SeededRng(1));
    const predict = net.predict.bind(net);
    let calls = 0;
    (net as unknown as { predict: (x: tf.Tensor) => tf.Tensor }).predict = (x: tf.Tensor) => {
      if (++calls > 2) throw new Error(FAULT);
      return predict(x);
    };
    const v = verifyProperty(
      net,
      { boxes: [{ lower: Float32Array.of(0, 0), upper: Float32Array.of(1, 1) }], disjuncts: [[{ c: [1, 0, 0], d: -1e9 }]] },
      { timeoutS: 5 },
    );
    expect(v.kind).toBe('error');
    expect(v.kind === 'error' && v.message).toMatch(/^backend fault: memory access out of bounds/);
    expect(backendFaulted()).toBe(true);
    await rebuildBackend();
    expect(backendFaulted()).toBe(false);
  });
});
