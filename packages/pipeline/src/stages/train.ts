import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { NetworkTeacher } from '@certkd/teachers';
import {
  Adam,
  CancelledError,
  ConfigError,
  DataSplit,
  FeatureTeacher,
  LoadedDataset,
  Network,
  SeededRng,
  architectureOptions,
  specParamCount,
  NetworkSpec,
  loadModel,
  saveModel,
  stepLr,
} from '@certkd/core';
import { boundDiagnostics } from '@certkd/bounds';
import { epsSchedule } from '@certkd/certified-losses';
import { augmentImages, isAugmentationActive } from '@certkd/datasets';
import { RunContext, EpochRecord } from '../engine/context';
import { TrainStage } from '../recipe/schema';
import { asyncStage, Emit, tick } from '../engine/async-stage';
import { readCheckpoint, writeCheckpoint, BN_CONVENTION, TrainCheckpoint } from '../engine/checkpoint';
import { StepOutput, TrainingParts, trainStep } from '../engine/train-step';
import { ParallelTrainer } from '../engine/parallel/parallel-trainer';
import { resolveWorkers, WorkerCalibration } from '../engine/parallel/workers';
import { KernelProfile } from '../engine/profile';
import { deriveSeed, keyedSeed } from '../engine/seeds';
import { CachedTeacher, copyCachedTeacher, findCachedTeacher, storeCachedTeacher, teacherCacheKey } from '../engine/teacher-cache';
import { accuracy } from './accuracy';

/** Seconds between mid-epoch checkpoints (an epoch-end checkpoint is always written). */
export const CHECKPOINT_EVERY_S = 60;
/** Data-parallel steps stop looking ahead this long before a checkpoint is due. */
const LOOKAHEAD_MARGIN_S = 5;

interface PendingStep {
  rows: number;
  eps: number;
  submitted: number;
  result: Promise<StepOutput>;
}

/** The wasm backend's heap is a 32-bit address space; this build grows it to 2 GiB at most. */
export const WASM_HEAP_BYTES = 2 ** 31;
/**
 * Float32 copies of the parameters a training step holds at its peak: weights, two Adam
 * moments, gradients, |W| for interval passes, a teacher of the same size and transposes.
 */
export const PARAM_COPIES_PER_STEP = 8;

/** Refuse, before any work, a model whose training cannot fit the wasm heap (instead of a wasm memory fault mid-run). */
function checkWasmMemory(ctx: RunContext, spec: NetworkSpec, st: TrainStage, where: string): void {
  if (ctx.backend.name !== 'wasm') return;
  const params = specParamCount(spec);
  const bytes = params * 4 * PARAM_COPIES_PER_STEP;
  if (bytes <= WASM_HEAP_BYTES) return;
  throw new ConfigError(
    `${st.architecture.name} on [${spec.inputShape.join('x')}] inputs has ${(params / 1e6).toFixed(1)} M parameters; training it needs about ${(bytes / 2 ** 30).toFixed(1)} GiB of tensor memory, more than the wasm backend's 2 GiB heap: run it with --backend tensorflow (install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)`,
    ctx.recipeFile,
    `${where}.architecture`,
  );
}

export function modelNameOf(st: TrainStage): string {
  return st.model ?? (st.stage === 'train-teacher' ? 'teacher' : 'student');
}

/** The seed a model's random streams derive from: the stage's own, else the recipe's (schema: seed). */
export function modelSeedOf(recipe: { seed: number }, st: TrainStage): number {
  return st.seed ?? recipe.seed;
}

/** The key a model's random streams derive from, with its seed (schema: seedKey). */
export function seedKeyOf(st: TrainStage): string {
  return st.seedKey ?? (st.stage === 'train-teacher' ? 'teacher' : 'student');
}

/** Train a model with a loss plugin: seeded data order, eps schedule, Adam with step decay, checkpoints. */
export function trainStage(ctx: RunContext, st: TrainStage, index: number) {
  return asyncStage(ctx, async (emit) => runTraining(ctx, st, index, emit));
}

async function runTraining(ctx: RunContext, st: TrainStage, index: number, emit: Emit): Promise<void> {
  const stageName = st.stage;
  const where = `stages.${index}`;
  const name = modelNameOf(st);
  const train = ctx.train;
  const dataset = ctx.dataset;
  if (!train || !dataset) throw new ConfigError('no dataset is loaded', ctx.recipeFile, where);
  if (st.cache && st.stage !== 'train-teacher') throw new ConfigError('only train-teacher stages can be cached', ctx.recipeFile, `${where}.cache`);
  const cacheKey = st.cache ? teacherCacheKey(ctx.recipe, st) : undefined;
  const cached = cacheKey ? findCachedTeacher(path.dirname(ctx.paths.root), cacheKey) : undefined;
  if (cached) return useCachedTeacher(ctx, st, name, cached, emit);
  const setup = buildTraining(ctx, st, where, train, dataset);
  const { seed, net, loss, attack, teacher, extras, vars, adam, stepsPerEpoch, schedule, totalSteps } = setup;
  const bs = st.batchSize;
  const n = train.size;

  // eslint-disable-next-line prefer-const
  let { epoch, nextBatch, step, history, sums, trainWall, restoredRng } = restoreProgress(ctx, st, index, name, setup, emit);

  const workers = resolveWorkers(ctx, st, where, { totalSteps: totalSteps - step, teacher });
  let parallel: ParallelTrainer | undefined;
  // With workers, the main thread's network and optimiser are brought up to date before they are read.
  const sync = async () => parallel?.pull();

  const checkpoint = async (e: number, b: number, rng: SeededRng) => {
    await sync();
    const state: TrainCheckpoint = {
      stageIndex: index,
      model: name,
      epoch: e,
      nextBatch: b,
      step,
      stepRngState: rng.getState(),
      adamStep: adam.step,
      history,
      epochSums: sums,
      trainWallS: trainWall,
      bnConvention: BN_CONVENTION,
      extraVariables: extras.length,
    };
    writeCheckpoint(
      ctx.paths.checkpoint,
      state,
      net,
      adam.getState(),
      extras.map((v) => v.dataSync() as Float32Array),
    );
    emit({ type: 'checkpoint', stage: stageName, epoch: e, path: ctx.paths.checkpoint });
  };

  const [h, w, c] = train.shape;
  // --profile: step 1 warms up, the next profileSteps steps are profiled.
  const profile = ctx.profileSteps > 0 ? new KernelProfile() : undefined;
  let stageSteps = 0;
  try {
    const startWorkers = () => startParallel(ctx, st, setup, workers.count);
    // workers: auto times both ways first (results do not depend on the choice beyond float rounding).
    const calibration = workers.count > 1 && workers.calibrate ? new WorkerCalibration(workers.count, workers.split) : undefined;
    let leaveWorkers = false;
    // Workers that trained the rest of the stage (recorded with the results).
    let trainWorkers = workers.count > 1 && !calibration ? workers.count : 1;
    if (workers.count > 1 && !calibration) parallel = await startWorkers();
    if (workers.message) emit({ type: 'log', stage: stageName, message: workers.message });
    for (; epoch < st.epochs; epoch++) {
      const lr = stepLr(st.optimizer.lr, epoch, st.optimizer.milestones, st.optimizer.decay);
      const epochSeed = deriveSeed(seed, epoch + 1);
      const perm = new SeededRng(epochSeed).permutation(n);
      const stepRng = new SeededRng(deriveSeed(epochSeed, 7));
      if (restoredRng) {
        stepRng.setState(restoredRng);
        restoredRng = undefined;
      } else {
        sums = { loss: 0, correct: 0, seen: 0, counted: 0, parts: {}, wall_s: 0 };
      }
      if (nextBatch === 0) emit({ type: 'epoch-start', stage: stageName, epoch: epoch + 1, epochs: st.epochs, lr });
      let lastCheckpoint = Date.now();
      // Prepare batch b (reading, augmentation and the step's own generator all draw from
      // stepRng, on this thread, so the random stream does not depend on how the step runs)
      // and start its step; with workers the step runs while this thread prepares the next.
      const submit = (b: number, stepIndex: number): PendingStep => {
        const submitted = performance.now();
        const idx = perm.subarray(b * bs, Math.min(n, (b + 1) * bs));
        const batch = train.read(idx);
        const pixels = isAugmentationActive(dataset.augmentation) ? augmentImages(batch.x, idx.length, train.shape, dataset.augmentation, stepRng) : batch.x;
        const lossRng = stepRng.fork();
        const eps = schedule(stepIndex);
        const progress = { epoch, step: stepIndex, fraction: stepIndex / totalSteps };
        const common = { eps, epsMax: st.eps.max, progress, lr, gradClip: st.optimizer.gradClip };
        if (parallel)
          return { rows: idx.length, eps, submitted, result: parallel.step({ x: pixels, shape: [idx.length, h, w, c], y: batch.y, rng: lossRng, ...common }) };
        const x = tf.tensor4d(pixels, [idx.length, h, w, c]);
        const y = tf.tensor1d(batch.y, 'int32');
        const run = () => trainStep({ net, loss, adam, vars, x, y, rng: lossRng, teacher, attack, ...common });
        const profiled = profile && stageSteps >= 1 && profile.runs < ctx.profileSteps;
        const result = (profiled ? profile.record(run) : Promise.resolve().then(run)).finally(() => tf.dispose([x, y]));
        return { rows: idx.length, eps, submitted, result };
      };
      let inflight: PendingStep | undefined;
      let lastDone = performance.now();
      for (let b = nextBatch; b < stepsPerEpoch; b++) {
        if (!inflight) {
          if (ctx.signal.aborted) {
            await checkpoint(epoch, b, stepRng);
            throw new CancelledError(`interrupted during ${name} epoch ${epoch + 1}, batch ${b + 1}; resume with --resume`);
          }
          inflight = submit(b, step);
        }
        const cur = inflight;
        inflight = undefined;
        // Look one step ahead unless a checkpoint, the epoch's end or an interrupt needs the replicas idle after this step.
        const checkpointSoon = Date.now() - lastCheckpoint > (CHECKPOINT_EVERY_S - LOOKAHEAD_MARGIN_S) * 1000;
        if (parallel && !leaveWorkers && b + 1 < stepsPerEpoch && !ctx.signal.aborted && !checkpointSoon) inflight = submit(b + 1, step + 1);
        let out: StepOutput;
        try {
          out = await cur.result;
        } catch (e) {
          await inflight?.result.catch(() => undefined);
          throw e;
        }
        const eps = cur.eps;
        const done = performance.now();
        const t0 = Math.max(cur.submitted, lastDone);
        lastDone = done;
        const ms = done - t0;
        trainWall += ms / 1000;
        sums.wall_s += ms / 1000;
        sums.loss += out.loss * cur.rows;
        if (out.correct >= 0) {
          sums.correct += out.correct;
          sums.counted += cur.rows;
        }
        sums.seen += cur.rows;
        for (const [k, v] of Object.entries(out.parts)) sums.parts[k] = (sums.parts[k] ?? 0) + v * cur.rows;
        step++;
        stageSteps++;
        if (profile && profile.runs === ctx.profileSteps && stageSteps === ctx.profileSteps + 1) {
          emit({ type: 'log', stage: stageName, message: profile.format(`profile of ${name} (${st.loss.name}, batch ${cur.rows}, ${ctx.backend.name})`) });
        }
        emit({
          type: 'batch-end',
          stage: stageName,
          epoch: epoch + 1,
          batch: b + 1,
          batches: stepsPerEpoch,
          step,
          loss: out.loss,
          parts: out.parts,
          eps,
          lr,
          grad_norm: out.gradNorm,
          ms,
        });
        const verdict = calibration?.record(ms);
        if (verdict === 'start-workers') parallel = await startWorkers();
        if (verdict === 'decided') {
          emit({ type: 'log', stage: stageName, message: calibration!.describe() });
          leaveWorkers = !calibration!.workersWin;
          trainWorkers = leaveWorkers ? 1 : workers.count;
        }
        if (leaveWorkers && parallel && !inflight) {
          await parallel.pull();
          await parallel.close();
          parallel = undefined;
        }
        if (!inflight && Date.now() - lastCheckpoint > CHECKPOINT_EVERY_S * 1000 && b + 1 < stepsPerEpoch) {
          await checkpoint(epoch, b + 1, stepRng);
          lastCheckpoint = Date.now();
        }
        await tick();
      }
      nextBatch = 0;
      await sync();
      const record = epochRecord(ctx, st, setup, epoch, step, lr, sums);
      history.push(record);
      emit({ type: 'epoch-end', stage: stageName, epochs: st.epochs, ...record });
      sums = { loss: 0, correct: 0, seen: 0, counted: 0, parts: {}, wall_s: 0 };
      await checkpoint(epoch + 1, 0, stepRng);
    }
    await parallel?.close();
    parallel = undefined;
    registerTrained(ctx, st, name, net, { history, trainWall, trainWorkers, cacheKey }, emit);
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    await parallel?.close();
    adam.dispose();
  }
}

/** What a train stage trains with: the seeded network, its loss, attack and teacher, the optimiser and the eps schedule. */
interface TrainingSetup extends TrainingParts {
  seed: number;
  adamConfig: { lr: number; beta1: number; beta2: number; epsilon: number };
  stepsPerEpoch: number;
  schedule: (step: number) => number;
  totalSteps: number;
}

/** Build a train stage's network (from its seed), loss, attack, teacher and optimiser; the network is disposed if a later check fails. */
function buildTraining(ctx: RunContext, st: TrainStage, where: string, train: DataSplit, dataset: LoadedDataset): TrainingSetup {
  const seed = keyedSeed(modelSeedOf(ctx.recipe, st), 'model', seedKeyOf(st));
  const builder = ctx.registry.create('architecture', st.architecture.name, {}, `${where}.architecture`);
  const archOpts = architectureOptions.safeParse(st.architecture.options);
  if (!archOpts.success)
    throw new ConfigError(archOpts.error.issues[0].message, ctx.recipeFile, `${where}.architecture.options.${archOpts.error.issues[0].path.join('.')}`);
  const spec = builder.build(dataset.input, archOpts.data);
  checkWasmMemory(ctx, spec, st, where);
  const bs = st.batchSize;
  const n = train.size;
  // A last batch of one example has no batch statistics: drop it.
  const stepsPerEpoch = n % bs === 1 ? Math.floor(n / bs) : Math.ceil(n / bs);
  if (stepsPerEpoch < 1) throw new ConfigError(`batch size ${bs} leaves no batch of the ${n} training examples`, ctx.recipeFile, `${where}.batchSize`);
  const schedule = epsSchedule({ epsMax: st.eps.max, startEpoch: st.eps.start, rampEpochs: st.eps.ramp, stepsPerEpoch });
  const totalSteps = st.epochs * stepsPerEpoch;
  const net = Network.create(spec, new SeededRng(seed), st.init);
  try {
    const loss = ctx.registry.create(st.loss.kind, st.loss.name, st.loss.options, `${where}.loss`);
    const attack = st.attack ? ctx.registry.create('attack', st.attack.name, st.attack.options, `${where}.attack`) : undefined;
    const teacher = st.teacher ? ctx.teachers.get(st.teacher) : undefined;
    if (st.teacher && !teacher) {
      throw new ConfigError(
        `unknown teacher '${st.teacher}'; known: ${[...ctx.teachers.keys()].join(', ') || '(none: add a train-teacher or load-teacher stage before)'}`,
        ctx.recipeFile,
        `${where}.teacher`,
      );
    }
    if (st.loss.kind === 'distill-loss' && !teacher) throw new ConfigError('a distillation loss needs a teacher', ctx.recipeFile, `${where}.teacher`);
    loss.prepare?.(net, teacher, new SeededRng(deriveSeed(seed, 0x1a)));
    const extras = loss.variables?.() ?? [];
    const vars = [...net.trainableVariables(), ...extras];
    const adamConfig = { lr: st.optimizer.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const adam = new Adam(vars, adamConfig);
    return { seed, net, loss, attack, teacher, extras, vars, adam, adamConfig, stepsPerEpoch, schedule, totalSteps };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** Data-parallel replicas of a train stage's network, loss, attack, teacher and optimiser in worker threads. */
function startParallel(ctx: RunContext, st: TrainStage, setup: TrainingSetup, workers: number): Promise<ParallelTrainer> {
  return ParallelTrainer.start({
    workers,
    backend: ctx.backend.name,
    plugins: ctx.recipe.plugins,
    baseDir: path.dirname(path.resolve(ctx.recipeFile)),
    net: setup.net,
    loss: { kind: st.loss.kind, name: st.loss.name, options: st.loss.options ?? {} },
    attack: st.attack ? { kind: 'attack', name: st.attack.name, options: st.attack.options ?? {} } : undefined,
    teacher: setup.teacher as NetworkTeacher | undefined,
    prepareSeed: deriveSeed(setup.seed, 0x1a),
    extras: setup.extras,
    adam: setup.adam,
    adamConfig: setup.adamConfig,
  });
}

/** An epoch's record: mean loss and parts, training accuracy, the eps reached, and validation accuracy and diagnostics when asked for. */
function epochRecord(
  ctx: RunContext,
  st: TrainStage,
  setup: TrainingSetup,
  epoch: number,
  step: number,
  lr: number,
  sums: TrainCheckpoint['epochSums'],
): EpochRecord {
  const record: EpochRecord = {
    epoch: epoch + 1,
    loss: sums.loss / sums.seen,
    parts: Object.fromEntries(Object.entries(sums.parts).map(([k, v]) => [k, v / sums.seen])),
    train_acc: sums.counted ? sums.correct / sums.counted : undefined,
    eps: setup.schedule(step - 1),
    lr,
    wall_s: sums.wall_s,
  };
  if (ctx.validation) record.val_acc = accuracy(setup.net, ctx.validation, 500).acc;
  if (st.diagnostics) record.diagnostics = epochDiagnostics(ctx, setup.net, st.diagnostics.n, setup.teacher);
  return record;
}

/** Where a train stage starts: at the beginning, or where the run's checkpoint left this stage (weights, optimiser and generator restored). */
function restoreProgress(ctx: RunContext, st: TrainStage, index: number, name: string, setup: TrainingSetup, emit: Emit) {
  const { net, adam, extras } = setup;
  const stageName = st.stage;
  let epoch = 0;
  let nextBatch = 0;
  let step = 0;
  let history: EpochRecord[] = [];
  let sums = { loss: 0, correct: 0, seen: 0, counted: 0, parts: {} as Record<string, number>, wall_s: 0 };
  let trainWall = 0;
  let restoredRng: number[] | undefined;
  const ck = ctx.resume ? readCheckpoint(ctx.paths.checkpoint) : undefined;
  if (ck && ck.state.stageIndex === index) {
    net.assign(ck.network);
    ck.network.dispose();
    adam.setState(ck.adam);
    tf.tidy(() => extras.forEach((v, i) => v.assign(tf.tensor(ck.extras[i], v.shape))));
    ({ epoch, nextBatch, step, history } = ck.state);
    sums = ck.state.epochSums;
    trainWall = ck.state.trainWallS;
    // A checkpoint at an epoch's end (nextBatch 0) holds the finished epoch's generator; the next
    // epoch starts its own, as in an uninterrupted run. Mid-epoch, the generator continues.
    restoredRng = nextBatch > 0 ? ck.state.stepRngState : undefined;
    emit({ type: 'log', stage: stageName, message: `resumed ${name} at epoch ${epoch + 1}, batch ${nextBatch + 1}` });
  } else if (ck) {
    ck.network.dispose();
  }

  return { epoch, nextBatch, step, history, sums, trainWall, restoredRng };
}

/** Save a trained model, store a cached teacher, and register the model, its history and results with the run. */
function registerTrained(
  ctx: RunContext,
  st: TrainStage,
  name: string,
  net: Network,
  done: { history: EpochRecord[]; trainWall: number; trainWorkers: number; cacheKey?: string },
  emit: Emit,
): void {
  const { history, trainWall, trainWorkers, cacheKey } = done;
  const stageName = st.stage;
  const dataset = ctx.dataset!;
  const dir = ctx.paths.model(name);
  saveModel(net, dir, {
    name,
    dataset: dataset.name,
    architecture: st.architecture.name,
    eps: st.eps.max,
    loss: `${st.loss.kind}/${st.loss.name}`,
    seed: modelSeedOf(ctx.recipe, st),
    bnConvention: BN_CONVENTION,
    recipe: ctx.recipe.name,
  });
  emit({ type: 'artifact', stage: stageName, kind: 'model', path: dir });
  if (cacheKey) {
    const entry = storeCachedTeacher(path.dirname(ctx.paths.root), cacheKey, dir, {
      key: cacheKey,
      run: path.basename(ctx.paths.root),
      model: name,
      history,
      train_wall_s: trainWall,
      train_workers: trainWorkers,
    });
    emit({ type: 'log', stage: stageName, message: `teacher '${name}' stored in the teacher cache: ${entry}` });
  }
  ctx.models.set(name, {
    name,
    network: net,
    architecture: st.architecture.name,
    role: st.stage === 'train-teacher' ? 'teacher' : st.stage === 'train-student' ? 'student' : 'model',
    path: dir,
    trainedWith: `${st.loss.kind}/${st.loss.name}`,
  });
  ctx.history[name] = history;
  ctx.results[name] = {
    ...(ctx.results[name] ?? {}),
    architecture: st.architecture.name,
    role: ctx.models.get(name)!.role,
    train_wall_s: trainWall,
    train_workers: trainWorkers,
    trained_with: st.loss.name,
    ...(st.teacher ? { teacher: st.teacher } : {}),
  };
}

/** A train-teacher stage served from the teacher cache: the cached model is copied into the run and registered as trained here. */
function useCachedTeacher(ctx: RunContext, st: TrainStage, name: string, cached: CachedTeacher, emit: Emit): void {
  const dir = ctx.paths.model(name);
  copyCachedTeacher(cached, dir);
  const { network } = loadModel(dir);
  emit({
    type: 'log',
    stage: st.stage,
    message: `teacher '${name}' from the teacher cache (${cached.dir}, trained by run '${cached.meta.run}'); not retrained`,
  });
  emit({ type: 'artifact', stage: st.stage, kind: 'model', path: dir });
  ctx.models.set(name, { name, network, architecture: st.architecture.name, role: 'teacher', path: dir, trainedWith: `${st.loss.kind}/${st.loss.name}` });
  ctx.history[name] = cached.meta.history;
  ctx.results[name] = {
    ...(ctx.results[name] ?? {}),
    architecture: st.architecture.name,
    role: 'teacher',
    train_wall_s: cached.meta.train_wall_s,
    train_workers: cached.meta.train_workers,
    trained_with: st.loss.name,
    teacher_cache: cached.key,
  };
}

/** A train stage's `diagnostics` at an epoch's end: boundDiagnostics on the first n test points at the recipe's eps, as flat numbers. */
function epochDiagnostics(ctx: RunContext, net: Network, n: number, teacher: FeatureTeacher | undefined): Record<string, number> {
  const test = ctx.test!;
  const m = Math.min(n, test.size);
  const { x } = test.read(Array.from({ length: m }, (_, i) => i));
  const xt = tf.tensor(x, [m, ...test.shape]);
  try {
    const useTeacher = teacher && teacher.featureWidth === net.widthAt(net.tapIndex('penultimate')) ? teacher : undefined;
    const d = boundDiagnostics(net, xt, ctx.recipe.eps, { teacher: useTeacher });
    return {
      feature_box_width: d.feature_box_width,
      unstable_relus: d.unstable_relus,
      unstable_fraction: d.unstable_fraction,
      ...(d.teacher_distance !== undefined ? { teacher_distance: d.teacher_distance, teacher_distance_rel: d.teacher_distance_rel! } : {}),
    };
  } finally {
    xt.dispose();
  }
}
