import { planSweep, SweepPlan } from './sweep/expand';
import { sweepJobs } from './jobs';
import { LocalQueue, DrainOptions } from './queue/local-queue';
import { BullQueue } from './queue/bullmq-queue';
import type { EnqueueResult, JobQueue, JobStatus } from './queue/types';

export { planSweep };

/** The queue a sweep goes to: BullMQ on Redis with a URL, else the local scheduler. */
export function sweepQueue(redis?: string): JobQueue {
  return redis ? new BullQueue(redis) : new LocalQueue();
}

/** Put a sweep's jobs into a queue (idempotent: ids are deterministic; jobs already present are left alone). */
export function enqueueSweep(plan: SweepPlan, queue: JobQueue): Promise<EnqueueResult> {
  return queue.enqueue(sweepJobs(plan));
}

/** Run a sweep on this machine: the same jobs, through the local back-end, `concurrency` child processes at a time. */
export async function runSweepLocally(plan: SweepPlan, opts: DrainOptions): Promise<Map<string, JobStatus>> {
  const queue = new LocalQueue();
  await enqueueSweep(plan, queue);
  return queue.drain(opts);
}
