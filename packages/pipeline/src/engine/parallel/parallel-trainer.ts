import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'worker_threads';
import { Adam, AdamConfig, ConfigError, Network, NumericalError, SeededRng, sharedCollectiveBuffer, splitBatch } from '@certkd/core';
import { NetworkTeacher } from '@certkd/teachers';
import type { StepOutput } from '../train-step';
import { workerOrtThreads } from './workers';
import {
  paramValues,
  type FromWorker,
  type InitMessage,
  type PluginRefMessage,
  type ReadyReply,
  type StateReply,
  type StepReply,
  type ToWorker,
} from './protocol';

/** The compiled worker script (tests run the TypeScript sources; the worker always runs the built file). */
export function trainWorkerScript(): string {
  const here = path.join(__dirname, 'train-worker.js');
  if (fs.existsSync(here)) return here;
  return path.join(__dirname, '..', '..', '..', 'dist', 'engine', 'parallel', 'train-worker.js');
}

export interface ParallelTrainerOptions {
  workers: number;
  backend: string;
  plugins: string[];
  baseDir: string;
  net: Network;
  loss: PluginRefMessage;
  attack?: PluginRefMessage<'attack'>;
  teacher?: NetworkTeacher;
  prepareSeed: number;
  extras: tf.Variable[];
  adam: Adam;
  adamConfig: AdamConfig;
}

export interface ParallelStepInput {
  /** The global batch, row-major [N, ...shape]. */
  x: Float32Array;
  shape: number[];
  y: Int32Array;
  eps: number;
  epsMax: number;
  /** The step's generator (the loss's attack starts and the like). */
  rng: SeededRng;
  progress: { epoch: number; step: number; fraction: number };
  lr: number;
  gradClip: number;
}

/** Rebuild an error raised in a worker, keeping the classes the engine reacts to. */
function workerError(r: Extract<FromWorker, { type: 'error' }>, rank: number): Error {
  const message = r.name === 'CollectiveAbortedError' ? r.message : `training worker ${rank}: ${r.message}`;
  const e: Error & { aborted?: boolean } =
    r.name === 'NumericalError' ? new NumericalError(r.message) : r.name === 'ConfigError' ? new ConfigError(r.message) : new Error(message);
  if (r.stack) e.stack = r.stack;
  e.aborted = r.name === 'CollectiveAbortedError';
  return e;
}

/**
 * Data-parallel training over worker threads: each worker holds a replica and a slice of every
 * batch; BatchNorm statistics, batch means and gradients are summed through shared memory, and
 * every replica applies the same Adam step. The main thread's network and optimiser are only
 * brought up to date by `pull()` (for checkpoints, validation and the saved model).
 */
export class ParallelTrainer {
  private readonly pending: { resolve: (r: FromWorker) => void; reject: (e: Error) => void }[][];
  private readonly failed: (Error | undefined)[];
  /** Steps were submitted since the last pull (the main thread's copies are stale). */
  private stale = false;
  /** What each worker computes on, as it reported when ready (backend, onnxruntime intra-op threads). */
  compute: { backend: string; ortThreads?: number }[] = [];

  private constructor(
    private readonly workers: Worker[],
    private readonly net: Network,
    private readonly adam: Adam,
    private readonly extras: tf.Variable[],
  ) {
    this.pending = workers.map(() => []);
    this.failed = workers.map(() => undefined);
    this.listen();
  }

  static async start(o: ParallelTrainerOptions): Promise<ParallelTrainer> {
    const script = trainWorkerScript();
    if (!fs.existsSync(script)) throw new ConfigError(`training worker script ${script} not found (build @certkd/pipeline first)`, undefined, 'workers');
    const vars = [...o.net.trainableVariables(), ...o.extras];
    const floats = vars.reduce((n, v) => n + v.size, 0) + 64;
    const buffer = sharedCollectiveBuffer(o.workers, floats);
    const workers = Array.from({ length: o.workers }, () => new Worker(script));
    const trainer = new ParallelTrainer(workers, o.net, o.adam, o.extras);
    const base: Omit<InitMessage, 'rank'> = {
      type: 'init',
      backend: o.backend,
      ortThreads: workerOrtThreads(o.backend, o.workers),
      plugins: o.plugins,
      baseDir: o.baseDir,
      size: o.workers,
      buffer,
      spec: o.net.spec,
      params: paramValues(o.net),
      loss: o.loss,
      attack: o.attack,
      teacher: o.teacher ? { spec: o.teacher.net.spec, params: paramValues(o.teacher.net), tap: o.teacher.tap, name: o.teacher.name } : undefined,
      prepareSeed: o.prepareSeed,
      extras: o.extras.map((v) => v.dataSync() as Float32Array),
      adamConfig: o.adamConfig,
      adam: o.adam.getState(),
    };
    try {
      const ready = await trainer.all(workers.map((_, rank) => ({ ...base, rank })));
      trainer.compute = ready.map((r) => {
        const { backend, ortThreads } = r as ReadyReply;
        return { backend, ortThreads };
      });
    } catch (e) {
      await trainer.close();
      throw e;
    }
    return trainer;
  }

  /**
   * One optimisation step on the global batch. `rng` is the step's own generator (only its
   * state is sent). Steps may be submitted before the previous one finished: each worker runs
   * its messages in order.
   */
  async step(s: ParallelStepInput): Promise<StepOutput> {
    const n = s.y.length;
    const rowSize = s.shape.slice(1).reduce((a, b) => a * b, 1);
    const rngState = s.rng.getState();
    const messages: ToWorker[] = splitBatch(n, this.workers.length).map(([offset, count]) => ({
      type: 'step',
      x: s.x.slice(offset * rowSize, (offset + count) * rowSize),
      shape: [count, ...s.shape.slice(1)],
      y: s.y.slice(offset, offset + count),
      offset,
      globalBatch: n,
      eps: s.eps,
      epsMax: s.epsMax,
      rngState,
      progress: s.progress,
      lr: s.lr,
      gradClip: s.gradClip,
    }));
    this.stale = true;
    const replies = (await this.all(messages)) as StepReply[];
    const first = replies[0];
    return { loss: first.loss, parts: first.parts, correct: first.correct, gradNorm: first.gradNorm };
  }

  /** Copy the replicas' weights, optimiser state and loss variables into the main thread's objects (nothing to do when no step ran since the last copy). */
  async pull(): Promise<void> {
    if (!this.stale) return;
    this.stale = false;
    const reply = (await this.request(0, { type: 'state' })) as StateReply;
    const values = new Map(reply.params);
    tf.tidy(() => {
      for (const [k, v] of this.net.namedParams()) {
        const data = values.get(k);
        if (!data) throw new Error(`training worker returned no value for ${k}`);
        v.assign(tf.tensor(data, v.shape, 'float32'));
      }
      this.extras.forEach((v, i) => v.assign(tf.tensor(reply.extras[i], v.shape, 'float32')));
    });
    this.adam.setState(reply.adam);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Send one message per worker and wait for every reply; on failure, report the root cause rather than the other workers' aborts. */
  private async all(messages: ToWorker[]): Promise<FromWorker[]> {
    const settled = await Promise.allSettled(messages.map((m, rank) => this.request(rank, m)));
    const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length) throw failures.find((e) => !(e as Error & { aborted?: boolean }).aborted) ?? failures[0];
    return settled.map((r) => (r as PromiseFulfilledResult<FromWorker>).value);
  }

  /** Send m to one worker; replies come back in the order the messages were sent. */
  private request(rank: number, m: ToWorker): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      if (this.failed[rank]) return reject(this.failed[rank]);
      this.pending[rank].push({ resolve, reject });
      this.workers[rank].postMessage(m);
    });
  }

  private listen(): void {
    this.workers.forEach((w, rank) => {
      const failAll = (e: Error) => {
        this.failed[rank] ??= e;
        for (const p of this.pending[rank].splice(0)) p.reject(e);
      };
      w.on('message', (r: FromWorker) => {
        const p = this.pending[rank].shift();
        if (!p) return;
        if (r.type === 'error') p.reject(workerError(r, rank));
        else p.resolve(r);
      });
      w.on('error', (e: Error) => failAll(new Error(`training worker ${rank} failed: ${e.message}`)));
      w.on('exit', (code: number) => failAll(new Error(`training worker ${rank} exited (code ${code})`)));
    });
  }
}
