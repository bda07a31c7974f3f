import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { Observable, concat, defer, tap, catchError, throwError, from, switchMap, finalize } from 'rxjs';
import {
  BackendChoice,
  CertkdError,
  ConfigError,
  PipelineEvent,
  loadBackend,
  loadModel,
  pluginRegistry,
  writeFileAtomic,
  CancelledError,
  releaseOrtSessions,
} from '@certkd/core';
import { loadTeacher } from '@certkd/teachers';
import { Recipe, SinkRef, Stage } from '../recipe/schema';
import { RunContext, ModelResults } from './context';
import { RunPaths } from './run-paths';
import { createRunContainer } from './registry';
import { RunLock } from './run-lock';
import { validateRecipe } from '../recipe/validate-recipe';
import { readRunState, writeRunState, RunState } from './run-state';
import { prepareDataStage } from '../stages/prepare-data';
import { registerLoadedTeacher } from '../stages/load-teacher';
import { afterStagesSettle } from './async-stage';
import { RUN_SINKS } from '../register';

const events = (...e: PipelineEvent[]): Observable<PipelineEvent> => from(e);

export interface RunOptions {
  recipeFile: string;
  /** Folder holding runs (default: ./runs). */
  runsDir?: string;
  /** Run name (default: the recipe's). */
  name?: string;
  resume?: boolean;
  /** Replace an existing run directory. */
  force?: boolean;
  /** Overrides the recipe's backend. */
  backend?: BackendChoice;
  /** Overrides every train stage's `workers` (not part of the recipe: results do not depend on it beyond float rounding). */
  workers?: 'auto' | number;
  /** Profile this many training steps per train stage (after one warm-up step) and log kernel times; training runs in-process. */
  profile?: number;
  /** Load plugin paths that lie outside the recipe's folder (plugins are code that will run). */
  allowExternalPlugins?: boolean;
  /** Sink plugins of this invocation (e.g. the console), after the run's and the recipe's; not part of the recipe. */
  sinks?: SinkRef[];
  signal?: AbortSignal;
}

export function recipeHash(recipe: Recipe): string {
  return crypto.createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

/**
 * Run a recipe: an Observable of typed events. Stages run in order (prepare-data first), each
 * made by the stage plugin its entry names; after each one the run state is saved, so `resume`
 * skips finished stages and continues a train stage from its checkpoint. Unsubscribing aborts
 * the running stage at its next batch (a train stage writes a checkpoint); the run directory's
 * lock, the models and the sinks are released once the stage has settled.
 */
export function runRecipe(recipe: Recipe, opts: RunOptions): Observable<PipelineEvent> {
  return defer(() => from(setup(recipe, opts))).pipe(
    switchMap((ctx) => withSinks(ctx, execute(ctx), opts.sinks ?? []).pipe(finalize(() => afterStagesSettle(ctx, () => ctx.lock?.release())))),
  );
}

/**
 * Every event goes to the run's sinks as it happens: events.jsonl and metrics.csv, then the
 * recipe's `sinks:`, then the invocation's. They are closed once the stages have settled.
 */
function withSinks(ctx: RunContext, events: Observable<PipelineEvent>, extra: SinkRef[]): Observable<PipelineEvent> {
  return defer(() => {
    const refs: { name: string; options: unknown; where: string }[] = [
      ...RUN_SINKS.map((name) => ({ name, options: {}, where: `sink '${name}'` })),
      ...(ctx.recipe.sinks ?? []).map((s, i) => ({ ...s, where: `sinks.${i}.options` })),
      ...extra.map((s) => ({ ...s, where: `sink '${s.name}'` })),
    ];
    const writers = refs.map((s) => ctx.registry.create('sink', s.name, s.options, s.where, ctx.recipeFile).open(ctx));
    return events.pipe(
      tap((e) => {
        for (const w of writers) w.write(e);
      }),
      finalize(() => afterStagesSettle(ctx, () => writers.forEach((w) => w.close()))),
    );
  });
}

async function setup(recipe: Recipe, opts: RunOptions): Promise<RunContext> {
  // Validate everything first: nothing is created, removed or locked for an invalid run.
  const paths =
    opts.name === undefined
      ? RunPaths.forRun(opts.runsDir ?? 'runs', recipe.name, opts.recipeFile, 'name')
      : RunPaths.forRun(opts.runsDir ?? 'runs', opts.name, undefined, '--name');
  const recipeDir = fs.existsSync(opts.recipeFile) ? path.dirname(opts.recipeFile) : process.cwd();
  const container = createRunContainer(recipe.plugins, recipeDir, { file: opts.recipeFile, allowExternal: opts.allowExternalPlugins });
  const registry = pluginRegistry(container);
  // Stage entries as their plugins parsed them (defaults of plugin stages filled in).
  recipe = validateRecipe(recipe, registry, opts.recipeFile);
  const backend = await loadBackend(opts.backend ?? recipe.backend);
  const warnings: string[] = [];
  const lock = claimRunDir(paths, recipe, opts, warnings);
  try {
    if (!fs.existsSync(paths.config)) writeFileAtomic(paths.config, YAML.stringify(recipe));
    const state = readRunState(paths.state);
    const controller = new AbortController();
    if (opts.signal?.aborted) controller.abort();
    opts.signal?.addEventListener('abort', () => controller.abort());
    return {
      recipe,
      recipeFile: opts.recipeFile,
      paths,
      container,
      registry,
      controller,
      pending: new Set(),
      backend,
      lock,
      warnings,
      models: new Map(),
      teachers: new Map(),
      results: state?.results ?? {},
      history: state?.history ?? {},
      signal: controller.signal,
      resume: !!opts.resume,
      workers: opts.workers,
      profileSteps: opts.profile ?? 0,
      startedAt: Date.now() - (opts.resume && state ? state.wall_s * 1000 : 0),
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** Files only a CertKD run directory holds; `--force` replaces nothing else. */
const RUN_DIR_MARKERS = ['state.json', 'recipe.yaml', 'events.jsonl', 'run.lock'];

/**
 * Create (or, for --resume and --force, take over) the run directory and hold its lock: a
 * second process writing the same run is refused with the holder named. `--force` empties only
 * a directory recognisable as a run (a marker file, or nothing at all) and never a live one.
 */
function claimRunDir(paths: RunPaths, recipe: Recipe, opts: RunOptions, warnings: string[]): RunLock {
  const name = path.basename(paths.root);
  const command = `certkd run ${opts.recipeFile}${opts.resume ? ' --resume' : ''}${opts.force ? ' --force' : ''}`;
  const stat = fs.lstatSync(paths.root, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory())
    throw new ConfigError(
      `${paths.root} exists and is not a run directory (${stat.isSymbolicLink() ? 'a symbolic link' : 'a file'}); remove it or choose another --name`,
      opts.recipeFile,
    );
  if (!stat) {
    fs.mkdirSync(paths.runsDir, { recursive: true });
    try {
      fs.mkdirSync(paths.root);
    } catch (e) {
      // Another process created it meanwhile: decide again with it in place.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return claimRunDir(paths, recipe, opts, warnings);
      throw e;
    }
    return RunLock.acquire(paths.lock, command, (w) => warnings.push(w));
  }
  const entries = fs.readdirSync(paths.root);
  if (entries.length > 0 && !opts.resume && !opts.force) {
    throw new ConfigError(
      `run directory ${paths.root} already exists; use --resume to continue it, --name to start another, or --force to replace it`,
      opts.recipeFile,
    );
  }
  if (opts.force && entries.length > 0 && !entries.some((e) => RUN_DIR_MARKERS.includes(e))) {
    throw new ConfigError(
      `--force replaces only a CertKD run directory, and ${paths.root} holds none of ${RUN_DIR_MARKERS.join(', ')}; remove it by hand or choose another --name`,
      undefined,
      '--force',
    );
  }
  // Resume and force take the lock before touching anything: a live run keeps its directory.
  const lock = RunLock.acquire(paths.lock, command, (w) => warnings.push(w));
  try {
    if (opts.resume) {
      const state = readRunState(paths.state);
      if (state && state.recipeHash !== recipeHash(recipe)) {
        throw new ConfigError(`the recipe changed since run '${name}' started (it would not resume the same run); use a new --name`, opts.recipeFile);
      }
    } else if (opts.force) {
      for (const e of fs.readdirSync(paths.root))
        if (path.join(paths.root, e) !== paths.lock) fs.rmSync(path.join(paths.root, e), { recursive: true, force: true });
    }
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

function execute(ctx: RunContext): Observable<PipelineEvent> {
  const recipe = ctx.recipe;
  const hash = recipeHash(recipe);
  const prior = ctx.resume ? readRunState(ctx.paths.state) : undefined;
  const state: RunState = prior ?? { recipeHash: hash, completed: [], results: {}, history: {}, wall_s: 0 };
  const total = recipe.stages.length + 1;
  const persist = () => {
    state.results = ctx.results;
    state.history = ctx.history;
    state.wall_s = (Date.now() - ctx.startedAt) / 1000;
    writeRunState(ctx.paths.state, state);
    writeResults(ctx, state.wall_s);
  };
  const stageObs = (s: Stage, i: number): Observable<PipelineEvent> => {
    const done = state.completed.find((c) => c.index === i);
    const t0 = Date.now();
    if (done) {
      return defer(() => {
        restoreStage(ctx, done);
        return events(
          { type: 'stage-start', stage: s.stage, index: i + 1, total },
          { type: 'stage-end', stage: s.stage, index: i + 1, wall_s: 0, skipped: true },
        );
      });
    }
    const stage = ctx.registry.create('stage', s.stage, s, `stages.${i}`, ctx.recipeFile);
    return concat(
      events({ type: 'stage-start', stage: s.stage, index: i + 1, total }),
      stage.run(ctx, i),
      defer(() => {
        const entry: RunState['completed'][number] = { index: i, stage: s.stage, models: [], teachers: [] };
        stage.complete?.(ctx, entry);
        state.completed.push(entry);
        persist();
        return events({ type: 'stage-end', stage: s.stage, index: i + 1, wall_s: (Date.now() - t0) / 1000 });
      }),
    );
  };
  const t0 = Date.now();
  return concat(
    events({
      type: 'run-start',
      run: ctx.paths.root.split(/[\\/]/).pop()!,
      recipe: recipe.name,
      backend: ctx.backend.name,
      backendDetail: ctx.backend.detail,
      seed: recipe.seed,
      resumed: ctx.resume,
    }),
    ...(ctx.warnings ?? []).map((message) => events({ type: 'warning', stage: 'run', message })),
    events({ type: 'stage-start', stage: 'prepare-data', index: 0, total }),
    prepareDataStage(ctx),
    defer(() => events({ type: 'stage-end', stage: 'prepare-data', index: 0, wall_s: (Date.now() - t0) / 1000 })),
    ...recipe.stages.map((s, i) => defer(() => stageObs(s, i))),
    defer(() => {
      persist();
      return events({ type: 'run-end', run: ctx.paths.root.split(/[\\/]/).pop()!, wall_s: state.wall_s, status: 'ok' });
    }),
  ).pipe(
    catchError((err: unknown) => {
      const wall = (Date.now() - ctx.startedAt) / 1000;
      state.wall_s = wall;
      try {
        state.results = ctx.results;
        writeRunState(ctx.paths.state, state);
      } catch {
        /* keep the original error */
      }
      const status = err instanceof CancelledError ? 'interrupted' : 'failed';
      const code = err instanceof CertkdError ? err.exitCode : 1;
      return concat(
        events({ type: 'error', stage: 'run', message: (err as Error).message, code }),
        events({ type: 'run-end', run: ctx.paths.root.split(/[\\/]/).pop()!, wall_s: wall, status }),
        throwError(() => err),
      );
    }),
    tap({ finalize: () => afterStagesSettle(ctx, () => disposeAll(ctx)) }),
  );
}

function restoreStage(ctx: RunContext, done: RunState['completed'][number]): void {
  for (const m of done.models) {
    const { network } = loadModel(m.path);
    ctx.models.set(m.name, {
      name: m.name,
      network,
      architecture: m.architecture,
      role: m.role as 'student' | 'teacher' | 'model',
      path: m.path,
      trainedWith: m.trainedWith,
    });
  }
  for (const t of done.teachers) {
    const local = ctx.models.get(t.name);
    const teacher = loadTeacher(local ? local.network : t.path, { tap: t.tap });
    ctx.teachers.set(t.name, teacher);
    if (!local) registerLoadedTeacher(ctx, t.name, t.path, teacher.net);
  }
}

function disposeAll(ctx: RunContext): void {
  // Every teacher owns its network (a trained or loaded teacher's model is a separate copy).
  ctx.teachers.forEach((t) => t.dispose());
  ctx.models.forEach((m) => m.network.dispose());
  // The onnxruntime kernels' cached sessions (native memory) go with the run.
  releaseOrtSessions();
}

/** results.json: RobustBench-style fields for the run's main model, plus every model's numbers. */
export function writeResults(ctx: RunContext, wall: number): void {
  const names = Object.keys(ctx.results);
  const main = [...ctx.models.values()].reverse().find((m) => m.role === 'student')?.name ?? names[names.length - 1];
  const r: ModelResults | undefined = main ? ctx.results[main] : undefined;
  const teacher = [...ctx.models.values()].find((m) => m.role === 'teacher');
  const out = {
    run: ctx.paths.root.split(/[\\/]/).pop(),
    recipe: ctx.recipe.name,
    dataset: ctx.recipe.dataset.name,
    model: main,
    architecture: r?.architecture,
    eps: r?.eps ?? ctx.recipe.eps,
    clean_acc: r?.clean_acc,
    pgd_acc: r?.pgd_acc,
    apgd_acc: r?.apgd_acc,
    certified_acc: r?.certified_acc,
    certifier: r?.certifier,
    verdicts: r?.verdicts,
    n_examples: r?.n_examples,
    teacher: teacher ? { name: teacher.name, ...ctx.results[teacher.name] } : undefined,
    backend: ctx.backend.name,
    seed: ctx.recipe.seed,
    wall_s: Math.round(wall * 10) / 10,
    models: ctx.results,
  };
  writeFileAtomic(ctx.paths.results, JSON.stringify(out, null, 2) + '\n');
}
