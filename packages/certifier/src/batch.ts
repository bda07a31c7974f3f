import * as fs from 'fs';
import * as path from 'path';
import { Piscina } from 'piscina';
import { ConfigError } from '@certkd/core';
import { readInstancesCsv } from '@certkd/interop';
import type { VerifyMethod } from './verify';
import { verifyVnnlib } from './vnnlib';
import { verdictToJson } from './verdict';
import { backendFaulted, isBackendFault, markBackendFault, rebuildBackendIfFaulted } from './backend-health';
import type { Network } from '@certkd/core';
import { CertifyPointsOptions, PointResult, certifyPoint } from './dataset';
import type { CertifierBounds } from './bound-source';

/** One VNN-COMP instance task (plain data, so it can cross to a worker thread). */
export interface VnnlibTask {
  key: string;
  onnx: string;
  vnnlib: string;
  timeoutS: number;
  methods?: VerifyMethod[];
  seed?: number;
  /** ReLU branch-and-bound branching (VerifyOptions.branching, fsbCandidates). */
  branching?: 'babsr' | 'fsb';
  fsbCandidates?: number;
}

/**
 * A JSONL record: the key, the result word, the verdict (JSON form) and the counterexample.
 * The word is a VNN-COMP word (sat, unsat, timeout, unknown) or `error` when the instance
 * could not be run at all (a missing or malformed file): such records are run again on resume.
 */
export interface TaskRecord {
  key: string;
  result: string;
  verdict: Record<string, unknown>;
  counterexample?: string;
}

/** The result word of an instance that could not be run (retried on resume). */
export const ERROR_RESULT = 'error';

/**
 * Run one task in this thread. A thrown error (missing or malformed file) becomes result
 * 'error' with an 'error' verdict carrying the message, kept apart from 'unknown' (a run that
 * ended without a decision). `bounds`: where the bound methods and relaxations come from
 * (e.g. a command's `--relaxation`; default: the built-ins).
 */
export function runVnnlibTask(task: VnnlibTask, bounds?: CertifierBounds): TaskRecord {
  const t0 = Date.now();
  try {
    const r = verifyVnnlib(task.onnx, task.vnnlib, {
      timeoutS: task.timeoutS,
      methods: task.methods,
      startMs: t0,
      branching: task.branching,
      fsbCandidates: task.fsbCandidates,
      ...(bounds ? { bounds } : {}),
    });
    if (backendFaulted()) {
      // A backend fault inside the verifier: recorded as an error (retried on resume), never as unknown.
      const message = r.verdict.kind === 'error' ? r.verdict.message : 'backend fault';
      return { key: task.key, result: ERROR_RESULT, verdict: { ...verdictToJson(r.verdict), kind: 'error', message } };
    }
    return { key: task.key, result: r.result, verdict: verdictToJson(r.verdict), ...(r.counterexample ? { counterexample: r.counterexample } : {}) };
  } catch (e) {
    if (isBackendFault(e)) markBackendFault();
    const message = isBackendFault(e) ? `backend fault: ${(e as Error).message}` : (e as Error).message;
    return { key: task.key, result: ERROR_RESULT, verdict: { kind: 'error', method: 'none', message, time_s: (Date.now() - t0) / 1000 } };
  }
}

/**
 * runVnnlibTask, then the backend rebuilt if the task faulted it, so that the next task in
 * this thread starts on a fresh backend (the record says so in its message).
 */
export async function runVnnlibTaskSafely(task: VnnlibTask, bounds?: CertifierBounds): Promise<TaskRecord> {
  await rebuildBackendIfFaulted();
  const r = runVnnlibTask(task, bounds);
  if (await rebuildBackendIfFaulted()) {
    const v = r.verdict as { message?: string };
    v.message = `${v.message ?? 'backend fault'}; the backend was rebuilt`;
  }
  return r;
}

/**
 * The key of a VNN-COMP instance: its onnx and vnnlib paths as the csv lists them (relative
 * to the csv's folder), normalised (`./a//b` -> `a/b`, backslashes -> slashes). Unlike base
 * names, A/net.onnx and B/net.onnx get different keys.
 */
export function instanceKey(onnx: string, vnnlib: string): string {
  const norm = (p: string) => path.posix.normalize(p.replace(/\\/g, '/'));
  return `${norm(onnx)},${norm(vnnlib)}`;
}

/**
 * Drop a torn last line (a crash mid-write) so that appended records start on a fresh line.
 * Complete lines are kept as they are.
 */
export function repairJsonl(jsonl: string): void {
  if (!fs.existsSync(jsonl)) return;
  const buf = fs.readFileSync(jsonl);
  if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return;
  fs.truncateSync(jsonl, buf.lastIndexOf(0x0a) + 1);
}

/**
 * Keys already done in a JSONL file (for resuming): those whose latest record is not an
 * 'error' record. A torn last line is ignored.
 */
export function doneKeys(jsonl: string): Set<string> {
  const keys = new Set<string>();
  for (const [key, r] of readTaskRecords(jsonl)) if (r.result !== ERROR_RESULT) keys.add(key);
  return keys;
}

/** The latest record of each key in a JSONL file, in order of first appearance; torn lines are ignored. */
export function readTaskRecords(jsonl: string): Map<string, TaskRecord> {
  const records = new Map<string, TaskRecord>();
  if (!fs.existsSync(jsonl)) return records;
  for (const line of fs.readFileSync(jsonl, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as TaskRecord;
      if (o && typeof o.key === 'string') records.set(o.key, o);
    } catch {
      /* a partially written line from an interrupted run */
    }
  }
  return records;
}

/** Counts over every instance of an out file: how many of each result, and how many were run now vs earlier. */
export interface RunSummary {
  total: number;
  /** Instances whose latest record was written by this invocation. */
  now: number;
  earlier: number;
  /** Result word -> number of instances (latest record per key). */
  counts: Record<string, number>;
}

/** Summarise the latest records per key (readTaskRecords); `nowKeys` are the keys run in this invocation. */
export function summarizeTaskRecords(records: Map<string, TaskRecord>, nowKeys: ReadonlySet<string>): RunSummary {
  const counts: Record<string, number> = {};
  let now = 0;
  for (const [key, r] of records) {
    const word = typeof r.result === 'string' ? r.result : 'unknown';
    counts[word] = (counts[word] ?? 0) + 1;
    if (nowKeys.has(key)) now++;
  }
  return { total: records.size, now, earlier: records.size - now, counts };
}

export interface BatchOptions {
  /** JSONL output, appended to as results are decided; existing keys are skipped. */
  out: string;
  timeoutS: number;
  methods?: VerifyMethod[];
  branching?: 'babsr' | 'fsb';
  fsbCandidates?: number;
  /** Worker threads (0 = run in this thread, default). Workers need the built dist/worker.js. */
  workers?: number;
  /** Backend for worker threads (default wasm). */
  backend?: 'wasm' | 'cpu';
  /**
   * Bound methods and relaxations (e.g. a `--relaxation` choice); default: the built-ins. Only
   * in this thread: refused with workers > 0 (a worker thread has only the built-in plugins).
   */
  bounds?: CertifierBounds;
  limit?: number;
  filter?: (t: VnnlibTask) => boolean;
  onRecord?: (r: TaskRecord) => void;
}

/** Path of the built worker script: beside this module, or in ../dist when running from the sources. */
export function workerScript(): string {
  const here = path.join(__dirname, 'worker.js');
  if (fs.existsSync(here) || path.basename(__dirname) !== 'src') return here;
  return path.join(__dirname, '..', 'dist', 'worker.js');
}

async function runTasks(tasks: VnnlibTask[], opts: BatchOptions): Promise<TaskRecord[]> {
  if (opts.bounds && (opts.workers ?? 0) > 0)
    throw new ConfigError('a choice of bound methods or relaxations applies in this thread only: use workers 0', undefined, 'workers');
  repairJsonl(opts.out);
  const done = doneKeys(opts.out);
  const todo = tasks.filter((t) => !done.has(t.key));
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  const records: TaskRecord[] = [];
  const emit = (r: TaskRecord) => {
    fs.appendFileSync(opts.out, JSON.stringify(r) + '\n');
    records.push(r);
    opts.onRecord?.(r);
  };
  const workers = opts.workers ?? 0;
  if (workers <= 0) {
    for (const t of todo) emit(await runVnnlibTaskSafely(t, opts.bounds));
    return records;
  }
  const script = workerScript();
  if (!fs.existsSync(script)) throw new ConfigError(`worker script ${script} not found (build @certkd/certifier first)`, undefined, 'workers');
  const pool = new Piscina({ filename: script, maxThreads: workers, minThreads: Math.min(workers, 1), workerData: { backend: opts.backend ?? 'wasm' } });
  try {
    await Promise.all(todo.map((t) => (pool.run(t) as Promise<TaskRecord>).then(emit)));
  } finally {
    await pool.destroy();
  }
  return records;
}

/** The tasks of a VNN-COMP instances.csv (paths resolved against the csv's folder, keys by instanceKey), e.g. to hand them to other processes. */
export function instanceTasks(csvFile: string, opts: Pick<VnnlibTask, 'timeoutS' | 'methods' | 'branching' | 'fsbCandidates'>): VnnlibTask[] {
  const dir = path.dirname(csvFile);
  return readInstancesCsv(csvFile).map((i) => ({
    key: i.listed ? instanceKey(i.listed.onnx, i.listed.vnnlib) : instanceKey(path.relative(dir, i.onnx), path.relative(dir, i.vnnlib)),
    onnx: path.resolve(dir, i.onnx),
    vnnlib: path.resolve(dir, i.vnnlib),
    timeoutS: opts.timeoutS,
    methods: opts.methods,
    ...(opts.branching ? { branching: opts.branching } : {}),
    ...(opts.fsbCandidates ? { fsbCandidates: opts.fsbCandidates } : {}),
  }));
}

/**
 * Run a VNN-COMP instances.csv (paths relative to the csv's folder), streaming to a JSONL
 * file keyed by instanceKey. Instances already recorded there are skipped (a timeout too);
 * 'error' records are run again. Returns the records written by this call.
 */
export async function runInstancesCsv(csvFile: string, opts: BatchOptions): Promise<TaskRecord[]> {
  let tasks = instanceTasks(csvFile, opts);
  if (opts.filter) tasks = tasks.filter(opts.filter);
  if (opts.limit !== undefined) tasks = tasks.slice(0, opts.limit);
  return runTasks(tasks, opts);
}

/**
 * Certify dataset points in this thread, appending one JSONL record per point (key = point
 * index) as it is decided; points already in the file are skipped. Returns the new results.
 */
export function runDatasetPoints(
  net: Network,
  xs: readonly Float32Array[],
  labels: ArrayLike<number>,
  opts: CertifyPointsOptions & { out: string; onResult?: (r: PointResult) => void },
): PointResult[] {
  if (xs.length !== labels.length) throw new ConfigError(`${xs.length} points but ${labels.length} labels`, undefined, 'labels');
  repairJsonl(opts.out);
  const done = doneKeys(opts.out);
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  const out: PointResult[] = [];
  for (let i = 0; i < xs.length; i++) {
    const key = String(i);
    if (done.has(key)) continue;
    const r = certifyPoint(net, xs[i], labels[i], i, opts);
    const { witness: _w, output: _o, ...rest } = r.verdict as { witness?: unknown; output?: unknown };
    fs.appendFileSync(opts.out, JSON.stringify({ key, label: r.label, predicted: r.predicted, correct: r.correct, verdict: rest }) + '\n');
    out.push(r);
    opts.onResult?.(r);
  }
  return out;
}
