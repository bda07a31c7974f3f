import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Piscina } from 'piscina';
import { ConfigError, SeededRng, loadModel, saveModel } from '@certkd/core';
import type { Attack, Network } from '@certkd/core';
import type { DecidingMethod, VerdictKind } from './verdict';
import { repairJsonl, workerScript } from './batch';
import type { VerifyMethod, VerifyOptions } from './verify';
import { certifyPoint } from './dataset';
import type { CertifierBounds } from './bound-source';

/** Extra verifier knobs that can cross to a worker thread (plain data). */
export type PointVerifyKnobs = Omit<VerifyOptions, 'timeoutS' | 'methods' | 'falsifier' | 'rng' | 'bounds'>;

export interface CertifyPointsRunOptions {
  eps: number;
  timeoutS: number;
  methods?: VerifyMethod[];
  /** Worker threads (0 or 1: this thread). Workers need the built dist/worker.js. */
  workers?: number;
  /** JSONL file: one record per decided point, appended as it is decided; points already in it are not redone. */
  out?: string;
  /** Injected attack (this thread only: an Attack object cannot cross to a worker). */
  falsifier?: Attack;
  /** Bound methods and relaxations (this thread only, like the falsifier). */
  bounds?: CertifierBounds;
  onProgress?: (done: number, total: number, summary: PointsSummary) => void;
  /** Valid input range (default [0, 1]). */
  clip?: [number, number];
  /** Point i uses SeededRng(seed + i), so results do not depend on which thread ran it (default 0). */
  seed?: number;
  /** Backend of worker threads (default wasm). */
  backend?: 'wasm' | 'cpu';
  verify?: PointVerifyKnobs;
}

/** One point's JSONL record. */
export interface PointRecord {
  key: string;
  index: number;
  label: number;
  predicted: number;
  correct: boolean;
  verdict: { kind: VerdictKind; method: DecidingMethod; time_s: number; message?: string; disjunct?: number };
}

export interface PointsSummary {
  /** Correctly classified and verified, over n. */
  certified_acc: number;
  n: number;
  correct: number;
  certified: number;
  counts: Partial<Record<VerdictKind, number>>;
  by_method: Partial<Record<DecidingMethod, number>>;
  /** Seconds spent on the points each method decided. */
  time_by_method: Partial<Record<DecidingMethod, number>>;
  /** Records ordered by point index. */
  records: PointRecord[];
}

/** Records of a JSONL file by key (the last valid line of a key wins; torn lines are ignored). */
export function readPointRecords(jsonl: string): Map<string, PointRecord> {
  const out = new Map<string, PointRecord>();
  if (!fs.existsSync(jsonl)) return out;
  for (const line of fs.readFileSync(jsonl, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as PointRecord;
      if (typeof o.key === 'string' && typeof o.index === 'number' && o.verdict && typeof o.verdict.kind === 'string') out.set(o.key, o);
    } catch {
      /* a partially written line from an interrupted run */
    }
  }
  return out;
}

export function summarizeRecords(records: readonly PointRecord[]): PointsSummary {
  const counts: PointsSummary['counts'] = {};
  const by_method: PointsSummary['by_method'] = {};
  const time_by_method: PointsSummary['time_by_method'] = {};
  let correct = 0,
    certified = 0;
  for (const r of records) {
    const v = r.verdict;
    counts[v.kind] = (counts[v.kind] ?? 0) + 1;
    by_method[v.method] = (by_method[v.method] ?? 0) + 1;
    time_by_method[v.method] = (time_by_method[v.method] ?? 0) + v.time_s;
    if (r.correct) correct++;
    if (r.correct && (v.kind === 'verified-complete' || v.kind === 'verified-incomplete')) certified++;
  }
  const n = records.length;
  return {
    certified_acc: n ? certified / n : 0,
    n,
    correct,
    certified,
    counts,
    by_method,
    time_by_method,
    records: [...records].sort((a, b) => a.index - b.index),
  };
}

/** Plain-data task for one point (what a worker receives). */
export interface PointTask {
  type: 'point';
  modelDir: string;
  index: number;
  x: Float32Array;
  label: number;
  eps: number;
  timeoutS: number;
  methods?: VerifyMethod[];
  clip?: [number, number];
  seed: number;
  verify?: PointVerifyKnobs;
}

/** Certify one point in this thread and return its record. */
export function pointRecord(
  net: Network,
  x: Float32Array,
  label: number,
  index: number,
  o: Pick<PointTask, 'eps' | 'timeoutS' | 'methods' | 'clip' | 'seed' | 'verify'> & { falsifier?: Attack; bounds?: CertifierBounds },
): PointRecord {
  const r = certifyPoint(net, x, label, index, {
    ...o.verify,
    eps: o.eps,
    clip: o.clip,
    timeoutS: o.timeoutS,
    methods: o.methods,
    falsifier: o.falsifier,
    bounds: o.bounds,
    rng: new SeededRng(o.seed + index),
  });
  const v = r.verdict;
  const verdict: PointRecord['verdict'] = { kind: v.kind, method: v.method, time_s: v.time_s };
  if (v.kind === 'error') verdict.message = v.message;
  if (v.kind === 'falsified') verdict.disjunct = v.disjunct;
  return { key: String(index), index, label: r.label, predicted: r.predicted, correct: r.correct, verdict };
}

const models = new Map<string, Network>();

/** Worker side: load the model once per directory and certify the point. */
export function runPointTask(t: PointTask): PointRecord {
  let net = models.get(t.modelDir);
  if (!net) {
    net = loadModel(t.modelDir).network;
    models.set(t.modelDir, net);
  }
  return pointRecord(net, t.x, t.label, t.index, t);
}

/**
 * Certify N points xs (N*D floats, network input order) against labels: local robustness in
 * the L-inf eps box. With `out`, records stream to a JSONL file and a rerun skips the points
 * already there (a torn last line from a crash is ignored); the summary covers all N points.
 * With workers > 1 the network is saved to a temporary model directory that every worker
 * thread loads once.
 */
export async function certifyPoints(net: Network, xs: Float32Array, labels: Int32Array, opts: CertifyPointsRunOptions): Promise<PointsSummary> {
  const D = net.inputShape.reduce((a, b) => a * b, 1);
  const N = labels.length;
  if (xs.length !== N * D) throw new ConfigError(`xs has ${xs.length} values, expected ${N} points x ${D} inputs = ${N * D}`, undefined, 'xs');
  if (!(opts.eps >= 0)) throw new ConfigError(`eps must be >= 0, got ${opts.eps}`, undefined, 'eps');
  if (!(opts.timeoutS > 0)) throw new ConfigError(`timeoutS must be > 0, got ${opts.timeoutS}`, undefined, 'timeoutS');
  const workers = opts.workers ?? 0;
  if (!Number.isInteger(workers) || workers < 0) throw new ConfigError(`workers must be an integer >= 0, got ${workers}`, undefined, 'workers');
  if (workers > 1 && opts.bounds) {
    throw new ConfigError('a chosen bound method or relaxation set cannot be passed to worker threads; use workers <= 1', undefined, 'workers');
  }
  if (workers > 1 && opts.falsifier) {
    throw new ConfigError(
      'an injected falsifier cannot be passed to worker threads; use workers <= 1 or drop the falsifier (the built-in projected-gradient falsifier still runs)',
      undefined,
      'falsifier',
    );
  }
  const seed = opts.seed ?? 0;
  if (opts.out) repairJsonl(opts.out);
  const done = opts.out ? readPointRecords(opts.out) : new Map<string, PointRecord>();
  const records = new Map<number, PointRecord>();
  for (const r of done.values()) if (r.index >= 0 && r.index < N && r.key === String(r.index)) records.set(r.index, r);
  if (opts.out) fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  const todo: number[] = [];
  for (let i = 0; i < N; i++) if (!records.has(i)) todo.push(i);
  const emit = (r: PointRecord) => {
    if (opts.out) fs.appendFileSync(opts.out, JSON.stringify(r) + '\n');
    records.set(r.index, r);
    opts.onProgress?.(records.size, N, summarizeRecords([...records.values()]));
  };
  const base = { eps: opts.eps, timeoutS: opts.timeoutS, methods: opts.methods, clip: opts.clip, seed, verify: opts.verify };
  const point = (i: number) => xs.slice(i * D, (i + 1) * D);
  if (workers <= 1) {
    for (const i of todo) emit(pointRecord(net, point(i), labels[i], i, { ...base, falsifier: opts.falsifier, bounds: opts.bounds }));
  } else if (todo.length > 0) {
    const script = workerScript();
    if (!fs.existsSync(script)) throw new ConfigError(`worker script ${script} not found (build @certkd/certifier first)`, undefined, 'workers');
    const modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-certify-'));
    try {
      saveModel(net, modelDir);
      const pool = new Piscina({ filename: script, maxThreads: workers, minThreads: 1, workerData: { backend: opts.backend ?? 'wasm' } });
      try {
        await Promise.all(
          todo.map((i) => {
            const task: PointTask = { type: 'point', modelDir, index: i, x: point(i), label: labels[i], ...base };
            return (pool.run(task) as Promise<PointRecord>).then(emit);
          }),
        );
      } finally {
        await pool.destroy();
      }
    } finally {
      fs.rmSync(modelDir, { recursive: true, force: true });
    }
  }
  return summarizeRecords([...records.values()]);
}
