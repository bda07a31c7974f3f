import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { encodeOnnxModel, OnnxGraph } from './onnx-graph';

/*
 * onnxruntime-node, used synchronously. The package's public InferenceSession.run is async, but
 * only because it defers the call with setImmediate: the native binding it wraps
 * (dist/binding.js, "a simple synchronized inference session object wrap") loads models and runs
 * them synchronously on the calling thread, spreading the work over the session's intra-op
 * thread pool. tfjs kernels are synchronous, so the kernels here call that binding directly:
 * no worker thread, no shared-memory copies, about 10 us per call. Inputs and preallocated
 * outputs are Float32Array views on the wasm backend's heap, so no data is copied either.
 */

interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, unknown>;
  dispose(): void;
}

interface OrtModule {
  binding: { InferenceSession: new () => BindingSession };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  version: string;
}

let ort: OrtModule | undefined;
let loadError: string | undefined;

/** Resolve onnxruntime-node and its synchronous binding; undefined + reason when unavailable. */
export function loadOrt(): { ok: true; version: string } | { ok: false; reason: string } {
  const off = process.env.CERTKD_ORT_DISABLE;
  if (off !== undefined && off !== '' && off !== '0') return { ok: false, reason: 'disabled by CERTKD_ORT_DISABLE' };
  if (ort) return { ok: true, version: ort.version };
  if (loadError) return { ok: false, reason: loadError };
  try {
    /* eslint-disable @typescript-eslint/no-require-imports -- an optional native package, probed at run time */
    const main = require.resolve('onnxruntime-node');
    const version: string = require('onnxruntime-node/package.json').version;
    const b = require(path.join(path.dirname(main), 'binding.js')) as { binding?: OrtModule['binding']; initOrt?: () => void };
    const common = require(require.resolve('onnxruntime-common', { paths: [path.dirname(main)] })) as { Tensor: OrtModule['Tensor'] };
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (typeof b.initOrt !== 'function' || typeof b.binding?.InferenceSession !== 'function') {
      throw new Error(
        `onnxruntime-node ${version} has no synchronous binding (dist/binding.js changed); the onnxruntime kernels support 1.x releases that ship it`,
      );
    }
    b.initOrt();
    ort = { binding: b.binding, Tensor: common.Tensor, version };
    return { ok: true, version };
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    loadError = /Cannot find module 'onnxruntime-node/.test(msg)
      ? 'onnxruntime-node is not installed (it is an optional dependency of @certkd/core)'
      : `onnxruntime-node failed to load: ${msg}`;
    return { ok: false, reason: loadError };
  }
}

function positiveIntEnv(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

const cores = () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);

/**
 * Intra-op threads per session: CERTKD_ORT_THREADS, else every core on the main thread and one
 * thread inside worker threads (data-parallel training workers already use one core each).
 */
export function defaultOrtThreads(): number {
  return positiveIntEnv('CERTKD_ORT_THREADS') ?? (isMainThread ? cores() : 1);
}

/** Sessions kept (LRU): CERTKD_ORT_SESSIONS, default 96. */
const DEFAULT_MAX_SESSIONS = 96;

let threads: number | undefined;
let maxSessions: number | undefined;
const sessions = new Map<string, BindingSession>();
let stats = { built: 0, evicted: 0, runs: 0 };

export function ortThreads(): number {
  return (threads ??= defaultOrtThreads());
}

/** Set the intra-op thread count (drops the cached sessions, which own their thread pools). */
export function setOrtThreads(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`onnxruntime thread count must be a positive integer, got ${n}`);
  if (n !== threads) releaseOrtSessions();
  threads = n;
}

export function setOrtMaxSessions(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`onnxruntime session cache size must be a positive integer, got ${n}`);
  maxSessions = n;
  evict();
}

function sessionLimit(): number {
  return (maxSessions ??= positiveIntEnv('CERTKD_ORT_SESSIONS') ?? DEFAULT_MAX_SESSIONS);
}

function evict(): void {
  const limit = sessionLimit();
  while (sessions.size > limit) {
    const [key, s] = sessions.entries().next().value as [string, BindingSession];
    sessions.delete(key);
    s.dispose();
    stats.evicted++;
  }
}

/** Dispose every cached session (their thread pools and buffers). */
export function releaseOrtSessions(): void {
  for (const s of sessions.values()) s.dispose();
  sessions.clear();
}

export function ortSessionStats(): { cached: number; built: number; evicted: number; runs: number; threads: number } {
  return { cached: sessions.size, ...stats, threads: ortThreads() };
}

export function resetOrtSessionStats(): void {
  stats = { built: 0, evicted: 0, runs: 0 };
}

function session(key: string, build: () => OnnxGraph): BindingSession {
  const hit = sessions.get(key);
  if (hit) {
    // Most recently used last.
    sessions.delete(key);
    sessions.set(key, hit);
    return hit;
  }
  if (!ort) throw new Error('onnxruntime-node is not loaded');
  const bytes = encodeOnnxModel(build());
  const s = new ort.binding.InferenceSession();
  s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
    intraOpNumThreads: ortThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Idle pool threads sleep instead of spinning: the calling thread runs wasm kernels between
    // sessions and must not compete with spinning workers for the same cores.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  stats.built++;
  sessions.set(key, s);
  evict();
  return s;
}

export interface OrtArray {
  data: Float32Array;
  shape: readonly number[];
}

/**
 * Run the graph cached under key (built by build() on a miss) on inputs named i0, i1, ...;
 * writes its single output 'y' into out.data (preallocated, exact shape).
 */
export function runOrt(key: string, build: () => OnnxGraph, inputs: OrtArray[], out: OrtArray): void {
  const s = session(key, build);
  const T = ort!.Tensor;
  const feeds: Record<string, unknown> = {};
  inputs.forEach((a, i) => (feeds[`i${i}`] = new T('float32', a.data, a.shape)));
  s.run(feeds, { y: new T('float32', out.data, out.shape) }, {});
  stats.runs++;
}
