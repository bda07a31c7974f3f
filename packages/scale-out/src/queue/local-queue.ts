import type { BackendChoice } from '@certkd/core';
import { executeJob, JobBusyError, JobInputError } from '../run-job';
import type { JobData } from '../jobs';
import { describeJob } from '../jobs';
import { BACKOFF_MS, EnqueueResult, JOB_ATTEMPTS, JobQueue, JobStatus, PlannedJob, RECHECK_MS } from './types';

export interface DrainOptions {
  store: string;
  /** Jobs run at once, each in its own child process (default 1). */
  concurrency?: number;
  backend?: BackendChoice;
  signal?: AbortSignal;
  /** Called whenever a job changes state or reports progress. */
  onUpdate?: (status: JobStatus, data: JobData) => void;
}

interface Entry {
  job: PlannedJob;
  status: JobStatus;
  notBefore: number;
  retried: boolean;
}

/**
 * The local back-end: an in-process scheduler that runs the queued jobs on this machine,
 * `concurrency` at a time, each in its own child process, with BullMQ's rules: dependencies
 * first, up to JOB_ATTEMPTS attempts with exponential backoff, no retry for bad input.
 */
export class LocalQueue implements JobQueue {
  readonly kind = 'local' as const;
  private readonly entries = new Map<string, Entry>();

  async enqueue(jobs: PlannedJob[]): Promise<EnqueueResult> {
    const out: EnqueueResult = { added: [], existing: [], retried: [] };
    for (const job of jobs) {
      const e = this.entries.get(job.id);
      if (!e) {
        this.entries.set(job.id, { job, status: { id: job.id, state: 'queued', attempts: 0 }, notBefore: 0, retried: false });
        out.added.push(job.id);
      } else if (e.status.state === 'failed') {
        e.status = { id: job.id, state: 'queued', attempts: 0 };
        out.retried.push(job.id);
      } else out.existing.push(job.id);
    }
    return out;
  }

  async status(ids: string[]): Promise<Map<string, JobStatus>> {
    return new Map(ids.map((id) => [id, this.entries.get(id)?.status ?? { id, state: 'missing', attempts: 0 }]));
  }

  async close(): Promise<void> {}

  /** Run every queued job to the end (done or failed). Resolves when none is left to start; interrupted jobs go back to the queue. */
  async drain(opts: DrainOptions): Promise<Map<string, JobStatus>> {
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const running = new Map<string, Promise<void>>();
    const update = (e: Entry) => opts.onUpdate?.(e.status, e.job.data);
    const depsOf = (e: Entry) => (e.job.data.kind === 'run' ? e.job.data.after : []);
    for (;;) {
      const now = Date.now();
      const stopping = !!opts.signal?.aborted;
      // Jobs whose dependencies failed cannot run.
      for (const e of this.entries.values()) {
        if (e.status.state !== 'queued') continue;
        const failed = depsOf(e).find((d) => this.entries.get(d)?.status.state === 'failed');
        if (failed) {
          e.status = { ...e.status, state: 'failed', error: `${describeJob(e.job.data)}: it needs ${failed}, which failed` };
          update(e);
        }
      }
      if (!stopping) {
        for (const e of this.entries.values()) {
          if (running.size >= concurrency) break;
          if (e.status.state !== 'queued' || e.notBefore > now) continue;
          if (!depsOf(e).every((d) => this.entries.get(d)?.status.state === 'done')) continue;
          running.set(
            e.job.id,
            this.start(e, opts, update).finally(() => running.delete(e.job.id)),
          );
        }
      }
      if (running.size === 0) {
        const waiting = [...this.entries.values()].filter((e) => e.status.state === 'queued');
        if (stopping || waiting.length === 0) break;
        const startable = waiting.filter((e) => depsOf(e).every((d) => this.entries.get(d)?.status.state === 'done'));
        if (startable.length === 0) {
          // Only jobs waiting for jobs this queue does not hold (or a cycle): nothing can start.
          for (const e of waiting) {
            e.status = {
              ...e.status,
              state: 'failed',
              error: `${describeJob(e.job.data)}: it needs ${depsOf(e)
                .filter((d) => this.entries.get(d)?.status.state !== 'done')
                .join(', ')}, which will not run here`,
            };
            update(e);
          }
          break;
        }
      }
      const next = Math.min(...[...this.entries.values()].filter((e) => e.status.state === 'queued' && e.notBefore > now).map((e) => e.notBefore), now + 1000);
      await Promise.race([...running.values(), sleep(Math.max(10, next - now), opts.signal)]);
    }
    return new Map([...this.entries].map(([id, e]) => [id, e.status]));
  }

  private async start(e: Entry, opts: DrainOptions, update: (e: Entry) => void): Promise<void> {
    e.status = { ...e.status, state: 'running', error: undefined, progress: { label: 'starting', fraction: 0 } };
    update(e);
    try {
      const result = await executeJob(e.job.data, {
        store: opts.store,
        retried: e.retried,
        backend: opts.backend,
        signal: opts.signal,
        onProgress: (label, fraction) => {
          e.status = { ...e.status, progress: { label, fraction } };
          update(e);
        },
      });
      e.status = { ...e.status, state: 'done', progress: undefined, result };
    } catch (err) {
      const message = (err as Error).message;
      if (opts.signal?.aborted) {
        e.status = { ...e.status, state: 'queued', progress: undefined, error: message };
      } else if (err instanceof JobInputError) {
        e.status = { ...e.status, state: 'failed', progress: undefined, attempts: e.status.attempts + 1, error: message };
      } else if (err instanceof JobBusyError) {
        e.status = { ...e.status, state: 'queued', progress: undefined, error: message };
        e.notBefore = Date.now() + RECHECK_MS;
      } else {
        const attempts = e.status.attempts + 1;
        e.retried = true;
        e.status = { ...e.status, state: attempts >= JOB_ATTEMPTS ? 'failed' : 'queued', progress: undefined, attempts, error: message };
        e.notBefore = Date.now() + BACKOFF_MS * 2 ** (attempts - 1);
      }
    }
    update(e);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
