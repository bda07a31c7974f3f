import * as tf from '@tensorflow/tfjs-core';
import { ortKernelsActive, ortMinFlops, setOrtMinFlops } from './ort-kernels';
import { ortThreads } from './ort-runtime';

export interface OrtCalibration {
  wasmMs: number;
  ortMs: number;
  /** onnxruntime at least CALIBRATION_MARGIN faster. */
  faster: boolean;
  summary: string;
}

/** A CNN7-like convolution (3x3 same, 64 -> 64 channels, 14x14, batch 16: 0.23 GFLOP). */
export const CALIBRATION_SHAPE = { x: [16, 14, 14, 64] as const, w: [3, 3, 64, 64] as const };
/** onnxruntime must take at most this fraction of wasm's time to be chosen by 'auto'. */
const CALIBRATION_MARGIN = 0.8;
const RUNS = 3;

let cached: OrtCalibration | undefined;

/**
 * Time one representative convolution on the wasm kernel and on onnxruntime (interleaved,
 * minimum of 3 after a warm-up each); cached for the process. Needs the onnxruntime kernels
 * registered on the active wasm backend.
 */
export function calibrateOrt(): OrtCalibration {
  if (cached) return cached;
  if (!ortKernelsActive()) throw new Error('calibrateOrt: the onnxruntime kernels are not registered on the active wasm backend');
  const saved = ortMinFlops();
  const [x, w] = tf.tidy(() => [
    tf.randomNormal([...CALIBRATION_SHAPE.x], 0, 1, 'float32', 1),
    tf.randomNormal([...CALIBRATION_SHAPE.w], 0, 0.1, 'float32', 2),
  ]);
  const once = (threshold: number) => {
    setOrtMinFlops(threshold);
    const t0 = performance.now();
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
    y.dataSync();
    const ms = performance.now() - t0;
    y.dispose();
    return ms;
  };
  const wasm: number[] = [];
  const ort: number[] = [];
  try {
    once(Infinity);
    once(0);
    for (let r = 0; r < RUNS; r++) {
      wasm.push(once(Infinity));
      ort.push(once(0));
    }
  } finally {
    setOrtMinFlops(saved);
    tf.dispose([x, w]);
  }
  const wasmMs = Math.min(...wasm);
  const ortMs = Math.min(...ort);
  const faster = ortMs <= CALIBRATION_MARGIN * wasmMs;
  const summary = `conv [${CALIBRATION_SHAPE.x.join(',')}]*[${CALIBRATION_SHAPE.w.join(',')}] ${ortMs.toFixed(1)} ms on onnxruntime (${ortThreads()} threads) vs ${wasmMs.toFixed(1)} ms on wasm`;
  cached = { wasmMs, ortMs, faster, summary };
  return cached;
}
