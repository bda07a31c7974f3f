import * as os from 'os';
import { ConfigError, FeatureTeacher, ortThreads } from '@certkd/core';
import { NetworkTeacher } from '@certkd/teachers';
import type { RunContext } from '../context';
import type { TrainStage } from '../../recipe/schema';

/** 'auto' never uses more workers than this. */
export const AUTO_MAX_WORKERS = 4;
/** 'auto' keeps stages shorter than this many steps in-process (a worker takes about a second to start). */
export const AUTO_MIN_STEPS = 200;
/** 'auto' gives each worker at least this many examples of a batch. */
export const AUTO_MIN_ROWS_PER_WORKER = 16;

export interface WorkerChoice {
  count: number;
  /** 'auto' chose count > 1: the stage times a few steps each way and keeps the faster. */
  calibrate?: boolean;
  /** For the run log. */
  message?: string;
  /** How each worker computes, for the calibration's log line (e.g. ' x 1 onnxruntime thread'). */
  split?: string;
}

/** Steps run and discarded before timing each way, then steps timed each way, when 'auto' calibrates. */
export const CALIBRATION_WARMUP = 2;
export const CALIBRATION_STEPS = 8;
/** Workers must be at least this much faster (ratio of median step times) to be kept. */
export const CALIBRATION_MARGIN = 0.95;

/**
 * 'auto' picks workers by measurement: CALIBRATION_STEPS steps in-process, then as many on the
 * workers (each after CALIBRATION_WARMUP untimed steps), and keeps the faster.
 */
export class WorkerCalibration {
  private phase: 'in-process' | 'workers' | 'done' = 'in-process';
  private seen = 0;
  private readonly times: Record<'in-process' | 'workers', number[]> = { 'in-process': [], workers: [] };

  constructor(
    readonly workers: number,
    /** How each worker computes, for the log (e.g. ' x 1 onnxruntime thread'). */
    readonly split = '',
  ) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Record one step's time; says when to start the workers and when the choice is made. */
  record(ms: number): 'start-workers' | 'decided' | undefined {
    if (this.phase === 'done' || ++this.seen <= CALIBRATION_WARMUP) return undefined;
    const list = this.times[this.phase];
    list.push(ms);
    if (list.length < CALIBRATION_STEPS) return undefined;
    this.seen = 0;
    if (this.phase === 'in-process') {
      this.phase = 'workers';
      return 'start-workers';
    }
    this.phase = 'done';
    return 'decided';
  }

  get workersWin(): boolean {
    return median(this.times.workers) < CALIBRATION_MARGIN * median(this.times['in-process']);
  }

  describe(): string {
    const [a, b] = [median(this.times['in-process']), median(this.times.workers)];
    return `workers: auto: ${b.toFixed(0)} ms/step on ${this.workers} worker threads${this.split}, ${a.toFixed(0)} ms/step in-process: ${this.workersWin ? `training on ${this.workers} worker threads${this.split}` : 'training in-process'} (set workers to a number to choose)`;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Backends whose training can be split over worker threads (tfjs-node already uses every core itself). */
const PARALLEL_BACKENDS = new Set(['wasm', 'cpu', 'onnxruntime']);

/**
 * The onnxruntime intra-op threads of each of `workers` worker threads: the main thread's count
 * (every core, or --ort-threads) split between them, at least 1, so workers x threads never
 * exceeds what the user allowed. Undefined for the other backends.
 */
export function workerOrtThreads(backend: string, workers: number): number | undefined {
  return backend === 'onnxruntime' ? Math.max(1, Math.floor(ortThreads() / workers)) : undefined;
}

const splitLabel = (backend: string, workers: number) => {
  const t = workerOrtThreads(backend, workers);
  return t === undefined ? '' : ` x ${t} onnxruntime thread${t === 1 ? '' : 's'}`;
};

/**
 * How many data-parallel workers a train stage uses. Workers help where one thread does part
 * of every step: wasm and cpu (single-threaded, a worker per core) and onnxruntime, whose
 * routed kernels use several threads but whose element-wise kernels stay on single-threaded
 * wasm (its workers share the main thread's intra-op threads: workerOrtThreads); tfjs-node
 * already uses every core. A number in the recipe is taken as given (and checked); 'auto'
 * considers one worker per core, up to AUTO_MAX_WORKERS, for stages long enough to repay the
 * start-up, and then keeps them only if they are faster (WorkerCalibration).
 */
export function resolveWorkers(ctx: RunContext, st: TrainStage, where: string, o: { totalSteps: number; teacher?: FeatureTeacher }): WorkerChoice {
  const requested = ctx.workers ?? st.workers;
  if (ctx.profileSteps > 0) return { count: 1, message: requested === 1 ? undefined : 'profiling: training runs in-process (workers: 1)' };
  const backend = ctx.backend.name;
  const parallelBackend = PARALLEL_BACKENDS.has(backend);
  const portableTeacher = !o.teacher || o.teacher instanceof NetworkTeacher;
  if (requested !== 'auto') {
    const n = requested;
    if (n === 1) return { count: 1 };
    if (!parallelBackend)
      throw new ConfigError(
        `data-parallel workers run the wasm, cpu or onnxruntime backend; the ${backend} backend already uses every core: use workers: 1`,
        ctx.recipeFile,
        `${where}.workers`,
      );
    if (!portableTeacher)
      throw new ConfigError(`teacher '${o.teacher!.name}' cannot be copied into worker threads; use workers: 1`, ctx.recipeFile, `${where}.workers`);
    if (st.batchSize < 2 * n) throw new ConfigError(`batch size ${st.batchSize} is too small to split over ${n} workers`, ctx.recipeFile, `${where}.workers`);
    return { count: n, message: `data-parallel training on ${n} worker threads${splitLabel(backend, n)}` };
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const count = Math.min(cores, AUTO_MAX_WORKERS, Math.floor(st.batchSize / AUTO_MIN_ROWS_PER_WORKER));
  if (!parallelBackend || !portableTeacher || count < 2 || o.totalSteps < AUTO_MIN_STEPS) return { count: 1 };
  return { count, calibrate: true, split: splitLabel(backend, count) };
}
