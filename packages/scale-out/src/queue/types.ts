import type { JobData, JobResult, PlannedJob } from '../jobs';

export type JobStateName = 'queued' | 'running' | 'done' | 'failed' | 'missing';

export interface JobStatus {
  id: string;
  state: JobStateName;
  /** Attempts that ended in a failure or a lost worker. */
  attempts: number;
  /** Why it failed (the last attempt's error). */
  error?: string;
  /** Progress of a running job, 0..1, and what it is doing. */
  progress?: { label: string; fraction: number };
  result?: JobResult;
}

export interface EnqueueResult {
  /** Newly added job ids. */
  added: string[];
  /** Jobs already queued, running or done (left as they are). */
  existing: string[];
  /** Failed jobs put back into the queue. */
  retried: string[];
}

/**
 * Where a sweep's jobs go: the local scheduler (child processes on this machine) or BullMQ on
 * Redis (workers anywhere). Both take the same jobs with deterministic ids, run them with the
 * same job runner (run-job.ts) and the same retry rules, and report the same states.
 */
export interface JobQueue {
  readonly kind: 'local' | 'redis';
  /** Add jobs; ids already present are not added again (failed ones are retried). */
  enqueue(jobs: PlannedJob[]): Promise<EnqueueResult>;
  /** States of the given job ids ('missing' for ids the queue does not hold). */
  status(ids: string[]): Promise<Map<string, JobStatus>>;
  close(): Promise<void>;
}

/** Retry rules shared by both back-ends. */
export const JOB_ATTEMPTS = 3;
export const BACKOFF_MS = 1000;
/** How long a job whose run is busy (or whose teacher is not trained yet) waits before it is looked at again. */
export const RECHECK_MS = 1000;

export type { JobData, JobResult, PlannedJob };
