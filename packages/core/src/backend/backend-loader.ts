import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors/errors';
import { registerWasmGradients } from './wasm-gradients';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendInfo {
  /** tfjs backend name actually running. */
  name: BackendName;
  /** What provides it (npm package, GPU or not). */
  detail: string;
  /** Backends tried before this one and why they were skipped. */
  skipped: string[];
}

let active: BackendInfo | undefined;

/**
 * Select the compute backend: `auto` tries tensorflow (tfjs-node-gpu, then tfjs-node),
 * then wasm, then cpu. A named backend is required to work. Idempotent per process.
 */
export async function loadBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (!(choice === 'auto' || (BACKEND_NAMES as readonly string[]).includes(choice))) {
    throw new ConfigError(`unknown backend '${choice}'; choose one of auto, ${BACKEND_NAMES.join(', ')}`, undefined, '--backend');
  }
  if (active && (choice === 'auto' || choice === active.name) && tf.getBackend() === active.name) return active;
  const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const detail = await tryBackend(name);
      active = { name, detail, skipped };
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

async function tryBackend(name: BackendName): Promise<string> {
  let detail: string;
  switch (name) {
    case 'tensorflow': {
      detail = requireNative();
      break;
    }
    case 'wasm': {
      require('@tensorflow/tfjs-backend-wasm');
      detail = '@tensorflow/tfjs-backend-wasm (XNNPACK, single-threaded)';
      break;
    }
    case 'cpu': {
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
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      return pkg;
    } catch {
      errors.push(`${pkg} not installed or its native library is missing`);
    }
  }
  throw new Error(errors.join(', '));
}
