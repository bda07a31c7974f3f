import * as fs from 'fs';
import * as path from 'path';
import { fork } from 'child_process';
import type { ChildMessage, ChildRequest } from './child';
import type { JobData, JobResult } from './jobs';
import { describeJob } from './jobs';

/** Exit code of a child whose run another live process is writing (mirrors child.ts). */
const EXIT_BUSY = 75;

/** A job failure that retrying cannot fix (a bad recipe or bad input: exit code 2). */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
}

/** The job's run is being written by another live process: retry later, without counting it as a failure of the job. */
export class JobBusyError extends Error {
  override readonly name = 'JobBusyError';
}

export interface ExecuteOptions {
  store: string;
  retried?: boolean;
  backend?: ChildRequest['backend'];
  signal?: AbortSignal;
  onProgress?: (label: string, fraction: number) => void;
  onEvent?: (e: Extract<ChildMessage, { type: 'event' }>['event']) => void;
}

/** The built child script: beside this module, or in ../dist when running from the sources (tests). */
export function childScript(): string {
  const here = path.join(__dirname, 'child.js');
  if (fs.existsSync(here) || path.basename(__dirname) !== 'src') return here;
  return path.join(__dirname, '..', 'dist', 'child.js');
}

/**
 * Run one job in a child process. Resolves with its result; rejects with JobInputError (do not
 * retry), JobBusyError (retry later) or an Error naming the job (retry).
 */
export function executeJob(data: JobData, opts: ExecuteOptions): Promise<JobResult> {
  const script = childScript();
  if (!fs.existsSync(script)) return Promise.reject(new JobInputError(`the job runner ${script} is missing (build @certkd/scale-out first)`));
  const what = describeJob(data);
  return new Promise<JobResult>((resolve, reject) => {
    const child = fork(script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
    let stderr = '';
    let result: JobResult | undefined;
    let error: Extract<ChildMessage, { type: 'error' }> | undefined;
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.label, m.fraction);
      else if (m.type === 'event') opts.onEvent?.(m.event);
      else if (m.type === 'done') result = m.result;
      else if (m.type === 'error') error = m;
    });
    const onAbort = () => {
      if (child.connected) child.send({ type: 'stop' });
    };
    opts.signal?.addEventListener('abort', onAbort);
    child.on('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`${what}: could not start the job process: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (code === 0 && result) return resolve(result);
      const message = error
        ? `${error.name}: ${error.message}`
        : signal
          ? `the job process was killed by ${signal}`
          : `the job process exited with code ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
      if (code === EXIT_BUSY) return reject(new JobBusyError(`${what}: ${message}`));
      // Bad input: a ConfigError, DataError or ModelFormatError (exit 2); an IoError (also 2) may pass.
      if (code === 2 && error?.name !== 'IoError') return reject(new JobInputError(`${what}: ${message}`));
      reject(new Error(`${what}: ${message}`));
    });
    const req: ChildRequest = { type: 'job', data, store: path.resolve(opts.store), retried: !!opts.retried, backend: opts.backend };
    child.send(req);
  });
}
