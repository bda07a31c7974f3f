import * as fs from 'fs';
import * as path from 'path';
import { RunPaths, isLive, readLock } from '@certkd/pipeline';
import { FAILED_FILE, runComplete } from './run-state';
import { SweepPlan, TEACHERS_DIR } from './sweep/expand';
import { runJobId, sweepJobs } from './jobs';
import type { JobQueue, JobStatus, JobStateName } from './queue/types';

export interface SweepStatusRow {
  id: string;
  kind: 'teacher' | 'run';
  name: string;
  setting?: string;
  seed?: number;
  state: JobStateName;
  attempts: number;
  error?: string;
  progress?: { label: string; fraction: number };
}

export interface SweepStatus {
  sweep: string;
  store: string;
  backend: 'local' | 'redis';
  counts: Record<'queued' | 'running' | 'done' | 'failed', number>;
  total: number;
  jobs: SweepStatusRow[];
}

/**
 * A run's state read from the store alone: done (every stage finished), running (a live lock),
 * failed (its last run ended in failure), else queued (not started, or interrupted: a rerun resumes it).
 */
export function storeState(store: string, dir: string, run: string, recipe: Parameters<typeof runComplete>[1]): { state: JobStateName; error?: string } {
  const paths = RunPaths.forRun(path.join(store, dir), run, undefined, 'run');
  if (runComplete(paths, recipe)) return { state: 'done' };
  try {
    const found = readLock(paths.lock);
    if (found && isLive(found)) return { state: 'running' };
  } catch {
    /* an unreadable lock directory: the other records decide */
  }
  try {
    const f = JSON.parse(fs.readFileSync(path.join(paths.root, FAILED_FILE), 'utf8')) as { message?: string };
    return { state: 'failed', error: f.message };
  } catch {
    /* no failure recorded */
  }
  try {
    const lines = fs.readFileSync(paths.log, 'utf8').trimEnd().split('\n');
    let error: string | undefined;
    for (let i = lines.length - 1; i >= 0; i--) {
      const e = JSON.parse(lines[i]) as { type?: string; status?: string; message?: string };
      if (e.type === 'error' && error === undefined) error = e.message;
      if (e.type === 'run-end') return e.status === 'failed' ? { state: 'failed', error } : { state: 'queued' };
      if (e.type === 'run-start') break;
    }
  } catch {
    /* no log yet */
  }
  return { state: 'queued' };
}

/** The state of every job of a sweep: from the queue when one is given (Redis), else from the store. */
export async function sweepStatus(plan: SweepPlan, store: string, queue?: JobQueue): Promise<SweepStatus> {
  const jobs = sweepJobs(plan);
  const fromQueue = queue ? await queue.status(jobs.map((j) => j.id)) : new Map<string, JobStatus>();
  const byRun = new Map(plan.runs.map((r) => [runJobId(r.name), r]));
  const rows: SweepStatusRow[] = jobs.map((j) => {
    const d = j.data as Extract<typeof j.data, { kind: 'run' }>;
    const q = fromQueue.get(j.id);
    const s = q && q.state !== 'missing' ? q : { ...storeState(store, d.dir, d.run, d.recipe), attempts: 0, progress: undefined };
    const r = byRun.get(j.id);
    return {
      id: j.id,
      kind: d.dir === TEACHERS_DIR ? 'teacher' : 'run',
      name: d.run,
      setting: r?.setting,
      seed: r?.seed,
      state: s.state,
      attempts: s.attempts,
      error: s.error,
      progress: s.progress,
    };
  });
  const counts = { queued: 0, running: 0, done: 0, failed: 0 };
  for (const r of rows) if (r.state !== 'missing') counts[r.state]++;
  counts.queued += rows.filter((r) => r.state === 'missing').length;
  return { sweep: plan.loaded.sweep.name, store: path.resolve(store), backend: queue?.kind ?? 'local', counts, total: rows.length, jobs: rows };
}
