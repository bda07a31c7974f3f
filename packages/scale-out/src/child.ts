// One job in its own process (forked by run-job.ts), so that a crash or a runaway allocation
// is contained. The parent sends the job over IPC; this process answers with progress, then
// 'done' or 'error', and exits: 0 done, 2 bad input (not retried), 75 the run is busy
// elsewhere (retried later), 130 stopped, 1 any other failure. When the parent dies (the IPC
// channel closes) it exits at once: its checkpoints are written atomically, so a retry resumes.
import 'reflect-metadata';
import type { BackendChoice } from '@certkd/core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { lastValueFrom, tap } from 'rxjs';
import { CertkdError, ConfigError, IoError, loadBackend, loadModel, writeFileAtomic } from '@certkd/core';
import type { Network, PipelineEvent } from '@certkd/core';
import { RunPaths, loadRecipe, pidAlive, readLock, recipeHash, runRecipe } from '@certkd/pipeline';
import { pointRecord, runVnnlibTask } from '@certkd/certifier';
import { loadOnnxModel } from '@certkd/interop';
import { EVAL_PGD_OPTIONS, Pgd } from '@certkd/attacks';
import type { JobData, JobResult, RunJobData } from './jobs';
import { FAILED_FILE, runComplete } from './run-state';

/** Exit code of a run whose directory another live process is writing. */
export const EXIT_BUSY = 75;

export interface ChildRequest {
  type: 'job';
  data: JobData;
  store: string;
  /** A previous attempt of this job ran (and lost its worker): a run lock left by another host is that attempt's. */
  retried: boolean;
  backend?: BackendChoice;
}

export type ChildMessage =
  | { type: 'progress'; label: string; fraction: number }
  | { type: 'event'; event: PipelineEvent }
  | { type: 'done'; result: JobResult }
  | { type: 'error'; name: string; message: string; exitCode: number };

const send = (m: ChildMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, undefined, {}, () => resolve()) : resolve()));
const controller = new AbortController();

process.on('disconnect', () => process.exit(137));
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());
process.on('message', (m: ChildRequest | { type: 'stop' }) => {
  if (m.type === 'stop') {
    controller.abort();
    return;
  }
  void handle(m).then(
    async (result) => {
      await send({ type: 'done', result });
      process.exit(0);
    },
    async (e: unknown) => {
      const err = e as Error;
      const code = e instanceof BusyError ? EXIT_BUSY : controller.signal.aborted ? 130 : e instanceof CertkdError ? e.exitCode : 1;
      await send({ type: 'error', name: err?.name ?? 'Error', message: err?.message ?? String(e), exitCode: code });
      process.exit(code);
    },
  );
});

class BusyError extends Error {}

async function handle(req: ChildRequest): Promise<JobResult> {
  if (req.data.kind === 'run') return runJob(req.data, req);
  await loadBackend(req.backend ?? 'auto');
  if (req.data.kind === 'certify-shard') {
    const d = req.data;
    const net = loadNetwork(d.model);
    const falsifier = new Pgd({ ...EVAL_PGD_OPTIONS }, 'pgd-40');
    try {
      const records = d.points.map((p, i) => {
        if (controller.signal.aborted) throw new CertkdError('stopped');
        const buf = Buffer.from(p.x, 'base64');
        const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        const r = pointRecord(net, x, p.label, p.index, { eps: d.eps, timeoutS: d.timeoutS, methods: d.methods, seed: d.seed, falsifier });
        void send({ type: 'progress', label: `point ${p.index}`, fraction: (i + 1) / d.points.length });
        return r;
      });
      return { kind: 'certify-shard', records };
    } finally {
      net.dispose();
    }
  }
  const records = req.data.tasks.map((t) => {
    if (controller.signal.aborted) throw new CertkdError('stopped');
    return runVnnlibTask(t);
  });
  return { kind: 'verify-shard', records };
}

function loadNetwork(file: string): Network {
  if (!fs.existsSync(file)) throw new ConfigError('model not found on this worker (the model must be visible at the same path to every worker)', file);
  return file.toLowerCase().endsWith('.onnx') ? loadOnnxModel(file).network : loadModel(file).network;
}

async function runJob(d: RunJobData, req: ChildRequest): Promise<JobResult> {
  const runsDir = path.join(req.store, d.dir);
  const paths = RunPaths.forRun(runsDir, d.run, undefined, 'run');
  // A duplicate delivery of a finished run (a lost acknowledgement) changes nothing.
  if (runComplete(paths, d.recipe)) return { kind: 'run', run: d.run, wall_s: 0, already_done: true };
  fs.mkdirSync(paths.root, { recursive: true });
  if (fs.existsSync(paths.config)) {
    const existing = loadRecipe(paths.config);
    if (recipeHash(existing) !== recipeHash(d.recipe)) {
      throw new ConfigError(`the store already holds run '${d.run}' with a different recipe; remove ${paths.root} or rename the sweep`, paths.config);
    }
  } else {
    writeFileAtomic(paths.config, YAML.stringify(d.recipe));
  }
  checkLock(paths, req.retried);
  const failedFile = path.join(paths.root, FAILED_FILE);
  fs.rmSync(failedFile, { force: true });
  const t0 = Date.now();
  let stages = 0;
  const total = d.recipe.stages.length + 1;
  try {
    await lastValueFrom(
      runRecipe(d.recipe, {
        recipeFile: paths.config,
        runsDir,
        name: d.run,
        resume: true,
        backend: req.backend,
        allowExternalPlugins: true,
        signal: controller.signal,
      }).pipe(
        tap((e) => {
          if (e.type === 'stage-end') stages = e.index + 1;
          if (e.type === 'stage-start' || e.type === 'epoch-end' || e.type === 'run-start' || e.type === 'run-end' || e.type === 'checkpoint')
            void send({ type: 'event', event: e });
          if (e.type === 'stage-end') void send({ type: 'progress', label: `${e.stage} done`, fraction: stages / total });
        }),
      ),
    );
  } catch (e) {
    // Another process took the run's lock between the check and the run.
    if (e instanceof ConfigError && e.field === 'run lock') throw new BusyError(e.message);
    // The failure, for `certkd sweep status` (it may come before the run's event log exists).
    if (!controller.signal.aborted)
      writeFileAtomic(
        failedFile,
        JSON.stringify({
          name: (e as Error).name,
          message: (e as Error).message,
          exitCode: e instanceof CertkdError ? e.exitCode : 1,
          at: new Date().toISOString(),
        }) + '\n',
      );
    throw e;
  }
  return { kind: 'run', run: d.run, wall_s: (Date.now() - t0) / 1000, already_done: false };
}

/**
 * A run lock left by a live process on this host means the run is busy (retry later). One left
 * by another host belongs to a worker that lost this job (its queue lock expired and the job was
 * handed here), so it is removed.
 */
function checkLock(paths: RunPaths, retried: boolean): void {
  const holder = readLock(paths.lock)?.holder;
  if (!holder) return; // none, or unreadable: the run lock's own rules decide
  if (holder.hostname === os.hostname()) {
    if (holder.pid !== process.pid && pidAlive(holder.pid)) throw new BusyError(`run '${path.basename(paths.root)}' is being written by pid ${holder.pid}`);
    return; // stale: the run lock takes it over
  }
  if (!retried) throw new BusyError(`run '${path.basename(paths.root)}' is locked by a process on host ${holder.hostname}`);
  try {
    fs.rmSync(paths.lock, { force: true });
  } catch (e) {
    throw new IoError(`cannot remove the lock left by a lost worker: ${(e as Error).message}`, paths.lock);
  }
}
