import * as tf from '@tensorflow/tfjs-core';

/**
 * Backend faults. The wasm backend keeps every tensor in one WebAssembly heap (at most 4 GiB);
 * an allocation past it, or any other trap, raises a WebAssembly.RuntimeError ("memory access
 * out of bounds", "table index is out of bounds", ...) and leaves the heap in an unknown state,
 * so every later computation in that backend may fail or, worse, compute garbage. Such a fault
 * is recorded (markBackendFault) and the backend is rebuilt (rebuildBackend) before the next
 * instance: a fresh engine state and a fresh backend instance (a new wasm heap).
 */

let faulted = false;

/** Whether `e` is a trap of the compute backend rather than an error of the computation's inputs. */
export function isBackendFault(e: unknown): boolean {
  const wasm = (globalThis as { WebAssembly?: { RuntimeError: new (...a: never[]) => Error } }).WebAssembly;
  if (wasm && e instanceof wasm.RuntimeError) return true;
  const m = e instanceof Error ? e.message : String(e);
  return /memory access out of bounds|table index is out of bounds|unreachable|out of memory|Cannot enlarge memory|Aborted\(/i.test(m);
}

/** Record that the backend faulted; the next rebuildBackendIfFaulted() rebuilds it. */
export function markBackendFault(): void {
  faulted = true;
}

export function backendFaulted(): boolean {
  return faulted;
}

/**
 * Rebuild the active backend: the engine is reset (every tensor of the faulted heap is
 * forgotten, not freed through it) and the backend is created again from its registered
 * factory. Kernels and gradients are registered per backend name, so they stay registered.
 */
export async function rebuildBackend(): Promise<string> {
  const name = tf.getBackend();
  const engine = tf.engine() as unknown as {
    reset(): void;
    state: object;
    registry: Record<string, { dispose(): void }>;
    backendName: string | null;
    backendInstance: unknown;
    pendingBackendInit: unknown;
  };
  try {
    engine.reset();
  } catch {
    // Disposing through the faulted heap may trap again: drop the state and the backend
    // instances without freeing through them.
    const State = engine.state.constructor as new () => object;
    engine.state = new State();
    for (const n of Object.keys(engine.registry)) {
      try {
        engine.registry[n].dispose();
      } catch {
        /* the faulted backend */
      }
      delete engine.registry[n];
    }
    engine.backendName = null;
    engine.backendInstance = null;
    engine.pendingBackendInit = null;
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not rebuild the '${name}' backend after a fault`);
  await tf.ready();
  // as the backend loader does: no first-use banner from the cpu backend
  if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  faulted = false;
  return name;
}

/** Rebuild the backend when a fault was recorded; returns whether it did. */
export async function rebuildBackendIfFaulted(): Promise<boolean> {
  if (!faulted) return false;
  await rebuildBackend();
  return true;
}
