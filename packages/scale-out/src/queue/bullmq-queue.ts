import type { BackendChoice } from '@certkd/core';
import * as os from 'os';
import { DelayedError, Job, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { ConfigError, CertkdError } from '@certkd/core';
import { executeJob, JobBusyError, JobInputError } from '../run-job';
import { describeJob } from '../jobs';
import type { JobData, JobResult } from '../jobs';
import { BACKOFF_MS, EnqueueResult, JOB_ATTEMPTS, JobQueue, JobStatus, PlannedJob, RECHECK_MS } from './types';

/** The BullMQ queue every CertKD job goes through. */
export const QUEUE_NAME = 'certkd';

/** Check a --redis value: redis://[user:password@]host[:port][/db] or rediss://... */
export function checkRedisUrl(url: string, field = '--redis'): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`not a URL: '${url}' (use redis://HOST:PORT)`, undefined, field);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`use redis://HOST:PORT or rediss://HOST:PORT, got '${url}'`, undefined, field);
  if (!u.hostname) throw new ConfigError(`no host in '${url}'`, undefined, field);
  return url;
}

/**
 * A Redis connection for BullMQ: commands wait through a disconnection instead of failing
 * (maxRetriesPerRequest null) and ioredis reconnects with a capped backoff, so a Redis restart
 * pauses workers instead of losing jobs.
 */
export function redisConnection(url: string, onError?: (e: Error) => void): IORedis {
  const conn = new IORedis(checkRedisUrl(url), {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  });
  conn.on('error', (e) => onError?.(e));
  return conn;
}

/** Wait until Redis answers, or fail (exit 1) naming the address. */
export async function waitForRedis(conn: IORedis, url: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      conn.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CertkdError(`cannot reach Redis at ${url} (no answer within ${timeoutMs / 1000} s)`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const jobOptions = (id: string) => ({
  jobId: id,
  attempts: JOB_ATTEMPTS,
  backoff: { type: 'exponential' as const, delay: BACKOFF_MS },
  // Finished jobs stay, so that re-enqueueing a sweep finds them and adds nothing.
  removeOnComplete: false,
  removeOnFail: false,
});

function toStatus(id: string, job: Job | undefined, state: string): JobStatus {
  if (!job || state === 'unknown') return { id, state: 'missing', attempts: 0 };
  const mapped: JobStatus['state'] = state === 'completed' ? 'done' : state === 'failed' ? 'failed' : state === 'active' ? 'running' : 'queued';
  const progress =
    job.progress && typeof job.progress === 'object' && 'fraction' in (job.progress as object)
      ? (job.progress as { label: string; fraction: number })
      : undefined;
  return {
    id,
    state: mapped,
    attempts: job.attemptsMade + (job.stalledCounter ?? 0),
    error: job.failedReason || undefined,
    progress: mapped === 'running' ? progress : undefined,
    result: mapped === 'done' ? (job.returnvalue as JobResult) : undefined,
  };
}

/** The Redis back-end's producer side: enqueue and look up jobs. */
export class BullQueue implements JobQueue {
  readonly kind = 'redis' as const;
  readonly conn: IORedis;
  readonly queue: Queue;

  constructor(readonly url: string) {
    this.conn = redisConnection(url);
    this.queue = new Queue(QUEUE_NAME, { connection: this.conn });
    this.queue.on('error', () => undefined);
  }

  async ready(): Promise<void> {
    await waitForRedis(this.conn, this.url);
  }

  async enqueue(jobs: PlannedJob[]): Promise<EnqueueResult> {
    await this.ready();
    const out: EnqueueResult = { added: [], existing: [], retried: [] };
    for (const j of jobs) {
      const found = await this.queue.getJob(j.id);
      if (found) {
        const state = await found.getState();
        if (state === 'failed') {
          await found.updateData(j.data);
          await found.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          out.retried.push(j.id);
        } else out.existing.push(j.id);
        continue;
      }
      // A job id already present is not added again (BullMQ keeps the first), so a race between two enqueuers is harmless.
      await this.queue.add(j.data.kind, j.data, jobOptions(j.id));
      out.added.push(j.id);
    }
    return out;
  }

  async status(ids: string[]): Promise<Map<string, JobStatus>> {
    await this.ready();
    const out = new Map<string, JobStatus>();
    for (const id of ids) {
      const job = await this.queue.getJob(id);
      out.set(id, toStatus(id, job, job ? await job.getState() : 'unknown'));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.conn.disconnect();
  }
}

export interface WorkerOptions {
  url: string;
  store: string;
  /** Jobs this worker runs at once, each in its own child process (default 1). */
  concurrency?: number;
  /** Milliseconds a job's lock lasts without renewal: a worker killed mid-job loses it after this (default 30000). */
  lockDuration?: number;
  /** Milliseconds between checks for stalled jobs (default 30000). */
  stalledInterval?: number;
  backend?: BackendChoice;
  log?: (line: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  /** Stop taking jobs; running jobs are stopped at their next batch (checkpointed) and go back to the queue. */
  stop(): Promise<void>;
}

/**
 * A worker: takes jobs from the queue and runs each in a child process. A job whose worker dies
 * loses its lock and is handed to another worker (BullMQ's stalled-job check), which resumes the
 * run from its last checkpoint; bad input fails the job at once (UnrecoverableError); a run
 * waiting for its shared teacher, or locked by a live process, is put back with a delay.
 */
export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  const log = o.log ?? (() => undefined);
  const id = `${os.hostname()}:${process.pid}`;
  let lastError = '';
  const conn = redisConnection(o.url, (e) => {
    if (e.message !== lastError) log(`redis: ${e.message} (reconnecting)`);
    lastError = e.message;
  });
  conn.on('ready', () => {
    if (lastError) log('redis: connected again');
    lastError = '';
  });
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  queue.on('error', () => undefined);
  let stopping = false;
  const processor = async (job: Job<JobData, JobResult>, token?: string, signal?: AbortSignal): Promise<JobResult> => {
    const data = job.data;
    const what = describeJob(data);
    const later = async (why: string) => {
      log(`${what}: ${why}; looking again in ${RECHECK_MS / 1000} s`);
      await job.moveToDelayed(Date.now() + RECHECK_MS, token);
      throw new DelayedError();
    };
    if (data.kind === 'run') {
      for (const dep of data.after) {
        const state = await queue.getJobState(dep);
        if (state === 'completed') continue;
        if (state === 'failed' || state === 'unknown')
          throw new UnrecoverableError(`${what}: it needs ${dep}, which ${state === 'failed' ? 'failed' : 'is not in the queue'}`);
        return later(`waiting for ${dep}`);
      }
    }
    const retried = job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0;
    log(`${what}: started (job ${job.id}${retried ? `, again after ${job.attemptsMade} failure(s) and ${job.stalledCounter ?? 0} lost worker(s)` : ''})`);
    const t0 = Date.now();
    try {
      const result = await executeJob(data, {
        store: o.store,
        retried,
        backend: o.backend,
        signal,
        onProgress: (label, fraction) => void job.updateProgress({ label, fraction }).catch(() => undefined),
      });
      log(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return result;
    } catch (e) {
      if (stopping) {
        log(`${what}: stopped (worker shutting down); back to the queue`);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (e instanceof JobInputError) {
        log(`${what}: failed, not retried: ${e.message}`);
        throw new UnrecoverableError(e.message);
      }
      if (e instanceof JobBusyError) return later(e.message);
      log(`${what}: attempt failed: ${(e as Error).message}`);
      throw e;
    }
  };
  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, processor, {
    connection: conn,
    concurrency: Math.max(1, o.concurrency ?? 1),
    lockDuration: o.lockDuration ?? 30_000,
    stalledInterval: o.stalledInterval ?? 30_000,
    maxStalledCount: JOB_ATTEMPTS,
    name: id,
    autorun: false,
  });
  worker.on('error', (e) => {
    if (e.message !== lastError) log(`worker: ${e.message}`);
    lastError = e.message;
  });
  void worker.run().catch((e) => log(`worker stopped: ${(e as Error).message}`));
  return {
    worker,
    async stop() {
      stopping = true;
      worker.cancelAllJobs('worker shutting down');
      await worker.close();
      await queue.close();
      conn.disconnect();
    },
  };
}
