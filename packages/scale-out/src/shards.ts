import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CertkdError, ConfigError } from '@certkd/core';
import { doneKeys, instanceTasks, readPointRecords, repairJsonl, summarizeRecords } from '@certkd/certifier';
import type { PointRecord, PointsSummary, TaskRecord, VerifyMethod, VnnlibTask } from '@certkd/certifier';
import { BullQueue } from './queue/bullmq-queue';
import type { CertifyShardData, PlannedJob, VerifyShardData } from './jobs';

/** Points (or instances) per shard job by default. */
export const DEFAULT_SHARD_SIZE = 10;

/** Content hash of a model file or directory (the shard job ids change when the model does). */
function modelHash(file: string, from?: string): string {
  if (!fs.existsSync(file)) throw new ConfigError(`${file} not found`, from);
  const h = crypto.createHash('sha256');
  const add = (f: string) => {
    const st = fs.statSync(f);
    if (st.isDirectory()) for (const e of fs.readdirSync(f).sort()) add(path.join(f, e));
    else h.update(path.basename(f)).update(fs.readFileSync(f));
  };
  add(file);
  return h.digest('hex').slice(0, 16);
}

const idOf = (prefix: string, what: unknown) => `${prefix}.${crypto.createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 24)}`;

function shardsOf<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Enqueue the jobs and wait for them, handing each finished job's result to `take` exactly once.
 * The caller is the only writer of the output file, so every record is written once even when
 * a job ran twice (a lost worker) or a previous coordinator already queued it.
 */
async function collect<R>(queue: BullQueue, jobs: PlannedJob[], take: (result: R) => void, pollMs = 300): Promise<void> {
  await queue.enqueue(jobs);
  const pending = new Set(jobs.map((j) => j.id));
  while (pending.size) {
    const states = await queue.status([...pending]);
    for (const [id, s] of states) {
      if (s.state === 'done') {
        take(s.result as R);
        pending.delete(id);
      } else if (s.state === 'failed') {
        throw new CertkdError(`shard job ${id} failed: ${s.error ?? 'unknown error'} (rerun the command to retry it; finished points are kept)`);
      } else if (s.state === 'missing') {
        throw new CertkdError(`shard job ${id} disappeared from the queue`);
      }
    }
    if (pending.size) await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface CertifyShardsOptions {
  redis: string;
  /** Model path (CertKD directory or .onnx) as the workers see it. */
  model: string;
  xs: Float32Array;
  labels: Int32Array;
  eps: number;
  timeoutS: number;
  methods: VerifyMethod[];
  seed?: number;
  out: string;
  shardSize?: number;
  onProgress?: (done: number, total: number, summary: PointsSummary) => void;
}

/**
 * Certify test points on the workers: the points not yet in `out` are split into shard jobs;
 * records are appended to `out` (the JSONL format of `certkd certify --out`) as shards finish,
 * each point once. A rerun resumes from the file. Returns the summary over all points.
 */
export async function certifyPointsOnQueue(o: CertifyShardsOptions): Promise<PointsSummary> {
  const N = o.labels.length;
  if (N === 0) throw new ConfigError('no points to certify', undefined, '--n');
  const D = o.xs.length / N;
  const model = path.resolve(o.model);
  const size = o.shardSize ?? DEFAULT_SHARD_SIZE;
  const seed = o.seed ?? 0;
  repairJsonl(o.out);
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  const records = new Map<number, PointRecord>();
  for (const r of readPointRecords(o.out).values()) if (r.index >= 0 && r.index < N && r.key === String(r.index)) records.set(r.index, r);
  const todo = Array.from({ length: N }, (_, i) => i).filter((i) => !records.has(i));
  const mh = modelHash(model);
  const jobs: PlannedJob[] = shardsOf(todo, size).map((idx) => {
    const data: CertifyShardData = {
      kind: 'certify-shard',
      model,
      eps: o.eps,
      timeoutS: o.timeoutS,
      methods: o.methods,
      seed,
      points: idx.map((i) => ({ index: i, label: o.labels[i], x: Buffer.from(o.xs.buffer, o.xs.byteOffset + i * D * 4, D * 4).toString('base64') })),
    };
    return {
      id: idOf('certify', {
        mh,
        eps: o.eps,
        t: o.timeoutS,
        m: o.methods,
        seed,
        idx,
        x: crypto
          .createHash('sha256')
          .update(data.points.map((p) => p.x + p.label).join())
          .digest('hex'),
      }),
      data,
    };
  });
  const queue = new BullQueue(o.redis);
  try {
    o.onProgress?.(records.size, N, summarizeRecords([...records.values()]));
    await collect<{ records: PointRecord[] }>(queue, jobs, (res) => {
      for (const r of res.records) {
        if (records.has(r.index)) continue;
        fs.appendFileSync(o.out, JSON.stringify(r) + '\n');
        records.set(r.index, r);
      }
      o.onProgress?.(records.size, N, summarizeRecords([...records.values()]));
    });
  } finally {
    await queue.close();
  }
  return summarizeRecords([...records.values()]);
}

export interface VerifyShardsOptions {
  redis: string;
  csv: string;
  out: string;
  timeoutS: number;
  methods: VerifyMethod[];
  shardSize?: number;
  onRecord?: (r: TaskRecord) => void;
}

/**
 * Verify a VNN-COMP instances.csv on the workers (network and property paths, resolved against
 * the csv's folder, must be visible at the same path to every worker). Records stream to `out`
 * (the JSONL of `certkd verify --instances`), each instance once; a rerun resumes.
 */
export async function verifyInstancesOnQueue(o: VerifyShardsOptions): Promise<TaskRecord[]> {
  const tasks: VnnlibTask[] = instanceTasks(path.resolve(o.csv), { timeoutS: o.timeoutS, methods: o.methods });
  repairJsonl(o.out);
  fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  const written = doneKeys(o.out);
  const todo = tasks.filter((t) => !written.has(t.key));
  const jobs: PlannedJob[] = shardsOf(todo, o.shardSize ?? DEFAULT_SHARD_SIZE).map((ts) => {
    const data: VerifyShardData = { kind: 'verify-shard', tasks: ts };
    return { id: idOf('verify', { files: ts.map((t) => [modelHash(t.onnx, o.csv), modelHash(t.vnnlib, o.csv)]), t: o.timeoutS, m: o.methods }), data };
  });
  const out: TaskRecord[] = [];
  const queue = new BullQueue(o.redis);
  try {
    await collect<{ records: TaskRecord[] }>(queue, jobs, (res) => {
      for (const r of res.records) {
        if (written.has(r.key)) continue;
        fs.appendFileSync(o.out, JSON.stringify(r) + '\n');
        written.add(r.key);
        out.push(r);
        o.onRecord?.(r);
      }
    });
  } finally {
    await queue.close();
  }
  return out;
}
