import * as os from 'os';
import { ConfigError, FeatureTeacher } from '@certkd/core';
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
  /** Why, when 'auto' decided, for the run log. */
  message?: string;
}

/**
 * How many data-parallel workers a train stage uses. Workers help the single-threaded
 * backends (wasm, cpu), where each worker runs its own backend on one core; tfjs-node already
 * uses every core. A number in the recipe is taken as given (and checked); 'auto' picks one
 * worker per core, up to AUTO_MAX_WORKERS, for stages long enough to repay the start-up.
 */
export function resolveWorkers(ctx: RunContext, st: TrainStage, where: string, o: { totalSteps: number; teacher?: FeatureTeacher }): WorkerChoice {
  const requested = ctx.workers ?? st.workers;
  if (ctx.profileSteps > 0) return { count: 1, message: requested === 1 ? undefined : 'profiling: training runs in-process (workers: 1)' };
  const backend = ctx.backend.name;
  const parallelBackend = backend === 'wasm' || backend === 'cpu';
  const portableTeacher = !o.teacher || o.teacher instanceof NetworkTeacher;
  if (requested !== 'auto') {
    const n = requested;
    if (n === 1) return { count: 1 };
    if (!parallelBackend) throw new ConfigError(`data-parallel workers run the wasm or cpu backend; the ${backend} backend already uses every core: use workers: 1`, ctx.recipeFile, `${where}.workers`);
    if (!portableTeacher) throw new ConfigError(`teacher '${o.teacher!.name}' cannot be copied into worker threads; use workers: 1`, ctx.recipeFile, `${where}.workers`);
    if (st.batchSize < 2 * n) throw new ConfigError(`batch size ${st.batchSize} is too small to split over ${n} workers`, ctx.recipeFile, `${where}.workers`);
    return { count: n, message: `data-parallel training on ${n} worker threads` };
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const count = Math.min(cores, AUTO_MAX_WORKERS, Math.floor(st.batchSize / AUTO_MIN_ROWS_PER_WORKER));
  if (!parallelBackend || !portableTeacher || count < 2 || o.totalSteps < AUTO_MIN_STEPS) return { count: 1 };
  return { count, message: `data-parallel training on ${count} worker threads (workers: auto, ${cores} cores; set workers: 1 to train in-process)` };
}
