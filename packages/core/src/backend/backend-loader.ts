import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import { registerWasmGradients } from './wasm-gradients';
import { calibrateOrt, OrtCalibration } from './onnxruntime/calibrate';
import { ortDescription, registerOrtKernels, unregisterOrtKernels } from './onnxruntime/ort-kernels';

/**
 * 'onnxruntime' is the wasm backend with its heavy kernels (convolutions, their gradients,
 * matrix products) running on onnxruntime-node; tfjs itself reports 'wasm' for it.
 */
export const BACKEND_NAMES = ['tensorflow', 'onnxruntime', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendInfo {
  /** Backend actually running ('onnxruntime': tfjs's wasm backend with onnxruntime kernels). */
  name: BackendName;
  /** What provides it (npm package, GPU or not). */
  detail: string;
  /** Backends tried before this one and why they were skipped. */
  skipped: string[];
}

export { calibrateOrt, CALIBRATION_SHAPE } from './onnxruntime/calibrate';
export type { OrtCalibration } from './onnxruntime/calibrate';
export {
  DEFAULT_ORT_MIN_FLOPS,
  ORT_KERNELS,
  ortKernelCounts,
  ortKernelsActive,
  ortMinFlops,
  registerOrtKernels,
  resetOrtKernelCounts,
  setOrtConvMethod,
  setOrtFilterGradMethod,
  setOrtMinFlops,
  unregisterOrtKernels,
} from './onnxruntime/ort-kernels';
export type { OrtConvMethod, OrtFilterGradMethod } from './onnxruntime/ort-kernels';
export { defaultOrtThreads, loadOrt, ortSessionStats, ortThreads, releaseOrtSessions, setOrtMaxSessions, setOrtThreads } from './onnxruntime/ort-runtime';

let active: (BackendInfo & { onnxruntimeFallback?: boolean }) | undefined;

/** The tfjs backend a loader backend runs on. */
export function tfjsBackendOf(name: BackendName): string {
  return name === 'onnxruntime' ? 'wasm' : name;
}

/**
 * Select the compute backend: `auto` tries tensorflow (tfjs-node-gpu, then tfjs-node), then
 * onnxruntime when onnxruntime-node loads and a calibration conv runs faster on it than on wasm,
 * then wasm, then cpu. A named backend is required to work, except onnxruntime, an optional
 * capability that falls back to wasm and says why in `detail` and `skipped`. Idempotent per process.
 */
export async function loadBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!(choice === 'auto' || (BACKEND_NAMES as readonly string[]).includes(choice))) {
    throw new ConfigError(`unknown backend '${choice}'; choose one of auto, ${BACKEND_NAMES.join(', ')}`, undefined, '--backend');
  }
  if (
    active &&
    (choice === 'auto' || choice === active.name || (choice === 'onnxruntime' && active.onnxruntimeFallback)) &&
    tf.getBackend() === tfjsBackendOf(active.name)
  ) {
    return active;
  }
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'onnxruntime', 'wasm', 'cpu'] : choice === 'onnxruntime' ? ['onnxruntime', 'wasm'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      let detail = await tryBackend(name, choice === 'auto');
      const ortSkip = skipped.find((s) => s.startsWith('onnxruntime: '));
      if (name === 'wasm' && ortSkip) detail += `; ${ortSkip.replace(/^onnxruntime: /, 'onnxruntime not used: ')}`;
      active = { name, detail, skipped, onnxruntimeFallback: choice === 'onnxruntime' && name !== 'onnxruntime' };
      return active;
    } catch (e) {
      skipped.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new ConfigError(`backend '${choice}' is not available (${skipped.join('; ')})`, undefined, '--backend');
}

/** The backend chosen by loadBackend, if any. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

async function tryBackend(name: BackendName, calibrate = false): Promise<string> {
  let detail: string;
  // Plain wasm (or any other backend) runs the stock wasm kernels again.
  if (name !== 'onnxruntime') unregisterOrtKernels();
  switch (name) {
    case 'onnxruntime': {
      await tryBackend('wasm');
      registerOrtKernels();
      if (calibrate) {
        let c: OrtCalibration;
        try {
          c = calibrateOrt();
        } catch (e) {
          unregisterOrtKernels();
          throw e;
        }
        if (!c.faster) {
          unregisterOrtKernels();
          throw new Error(`calibration: ${c.summary}`);
        }
        return `@tensorflow/tfjs-backend-wasm + ${ortDescription()}; calibration: ${c.summary}`;
      }
      return `@tensorflow/tfjs-backend-wasm + ${ortDescription()}`;
    }
    case 'tensorflow': {
      detail = requireNative();
      break;
    }
    case 'wasm': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- backends load on demand, not at import
      require('@tensorflow/tfjs-backend-wasm');
      detail = '@tensorflow/tfjs-backend-wasm (XNNPACK, single-threaded)';
      break;
    }
    case 'cpu': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- backends load on demand, not at import
      require('@tensorflow/tfjs-backend-cpu');
      detail = '@tensorflow/tfjs-backend-cpu (pure JavaScript)';
      break;
    }
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  // The cpu backend prints a one-time banner recommending tfjs-node; the loader already reports
  // which backends were skipped and why.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  // The gradient kernels built from forward kernels are exact on every backend; wasm needs
  // them (no Conv2DBackpropFilter) and the pure-JS cpu backend is several times faster with them.
  if (name === 'wasm' || name === 'cpu') registerWasmGradients();
  return detail;
}

function requireNative(): string {
  const errors: string[] = [];
  // A native package whose library is missing fails after registering its kernels, so the next
  // probe re-registers them and tfjs warns once per kernel (about 150 lines): the probe is quiet,
  // and the loader reports what was skipped and why.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native packages, probed at run time
        require(pkg);
        return pkg;
      } catch {
        errors.push(`${pkg} not installed or its native library is missing`);
      }
    }
  } finally {
    console.warn = warn;
  }
  throw new Error(errors.join(', '));
}
