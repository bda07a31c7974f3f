import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { AdamState, CertkdError, Network, loadModel, saveModel, writeDirAtomic, writeFileSynced } from '@certkd/core';
import { EpochRecord } from './context';

/**
 * A checkpoint or run-state file is missing, truncated or inconsistent. The message names the
 * file and the reason and says how to go on; exit code 2 (the run directory is bad input).
 */
export class CheckpointError extends CertkdError {
  override readonly exitCode = 2;
  constructor(
    reason: string,
    readonly file: string,
    hint = `delete ${path.dirname(file)} to restart from the last finished stage, or rerun without --resume and with --force to start afresh`,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}; ${hint}`, options);
  }
}

/**
 * Read and parse a JSON file of a run directory, validating it with `schema`; every failure
 * (unreadable, truncated, wrong fields) is a CheckpointError naming the file.
 */
export function readStateJson<T>(file: string, schema: z.ZodType<T>, hint?: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file, hint, { cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`is truncated or not valid JSON (${(e as Error).message})`, file, hint, { cause: e });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointError(`field '${issue.path.join('.') || '(root)'}': ${issue.message}`, file, hint);
  }
  return parsed.data;
}

export const BN_CONVENTION = 'clean-batch-statistics-for-adversarial-and-bound-passes';

/** Everything needed to continue a train stage exactly where it stopped. */
export interface TrainCheckpoint {
  stageIndex: number;
  model: string;
  /** Epoch in progress (0-based) and the next batch to run in it. */
  epoch: number;
  nextBatch: number;
  step: number;
  /** State of the per-epoch generator that feeds the loss's random ops. */
  stepRngState: number[];
  adamStep: number;
  history: EpochRecord[];
  /** Running sums of the epoch in progress. */
  epochSums: { loss: number; correct: number; seen: number; counted: number; parts: Record<string, number>; wall_s: number };
  trainWallS: number;
  /** METHODS 9.3: how BatchNorm statistics were handled. */
  bnConvention: string;
  extraVariables: number;
}

/** Write model, optimiser moments and state in one atomic directory swap. */
export function writeCheckpoint(dir: string, ck: TrainCheckpoint, net: Network, adam: AdamState, extras: Float32Array[]): void {
  writeDirAtomic(dir, (tmp) => {
    saveModel(net, path.join(tmp, 'model'), { checkpoint: true, bnConvention: ck.bnConvention });
    const arrays = [...adam.m, ...adam.v, ...extras];
    const total = arrays.reduce((n, a) => n + a.length, 0);
    const buf = new Float32Array(total);
    let off = 0;
    const sizes = arrays.map((a) => {
      buf.set(a, off);
      off += a.length;
      return a.length;
    });
    writeFileSynced(path.join(tmp, 'optimizer.bin'), new Uint8Array(buf.buffer));
    writeFileSynced(path.join(tmp, 'state.json'), JSON.stringify({ ...ck, sizes, slots: adam.m.length }, null, 1));
  });
}

export interface LoadedCheckpoint {
  state: TrainCheckpoint;
  network: Network;
  adam: AdamState;
  extras: Float32Array[];
}

const count = z.number().int().nonnegative();
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
/** What readCheckpoint relies on in state.json; the rest (history records) is carried along as written. */
const checkpointStateSchema = z
  .object({
    stageIndex: count,
    model: z.string(),
    epoch: count,
    nextBatch: count,
    step: count,
    stepRngState: z.array(finite),
    adamStep: count,
    history: z.array(z.record(z.string(), z.unknown())),
    epochSums: z.object({ loss: finite, correct: finite, seen: finite, counted: finite, parts: z.record(z.string(), finite), wall_s: finite }),
    trainWallS: finite,
    bnConvention: z.string(),
    extraVariables: count,
    sizes: z.array(count),
    slots: count,
  })
  .loose()
  .refine((s) => 2 * s.slots <= s.sizes.length, { message: 'slots: more optimiser slots than stored arrays', path: ['slots'] });

/**
 * Read a checkpoint written by writeCheckpoint; undefined when there is none (no state.json).
 * A truncated or inconsistent checkpoint (bad state.json, missing or short optimizer.bin, bad
 * model) throws a CheckpointError naming the file, before anything large is read.
 */
export function readCheckpoint(dir: string): LoadedCheckpoint | undefined {
  const stateFile = path.join(dir, 'state.json');
  if (!fs.existsSync(stateFile)) return undefined;
  const raw = readStateJson(stateFile, checkpointStateSchema);
  const optFile = path.join(dir, 'optimizer.bin');
  const need = raw.sizes.reduce((a, b) => a + b, 0);
  const stat = fs.statSync(optFile, { throwIfNoEntry: false });
  if (!stat) throw new CheckpointError('is missing; the checkpoint is incomplete', optFile);
  if (!stat.isFile()) throw new CheckpointError('is not a file', optFile);
  if (stat.size !== 4 * need)
    throw new CheckpointError(
      `holds ${stat.size} bytes, state.json describes ${4 * need} (${need} float32 values); it is truncated or from another checkpoint`,
      optFile,
    );
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(optFile);
  } catch (e) {
    throw new CheckpointError(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, optFile, undefined, { cause: e });
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const arrays: Float32Array[] = [];
  let off = 0;
  for (const n of raw.sizes) {
    arrays.push(all.slice(off, off + n));
    off += n;
  }
  let network: Network;
  try {
    ({ network } = loadModel(path.join(dir, 'model')));
  } catch (e) {
    if (!(e instanceof CertkdError)) throw e;
    throw new CheckpointError(`the checkpoint's model is unusable: ${e.message}`, path.join(dir, 'model'), undefined, { cause: e });
  }
  const state = raw as unknown as TrainCheckpoint;
  return {
    state,
    network,
    adam: { step: raw.adamStep, m: arrays.slice(0, raw.slots), v: arrays.slice(raw.slots, 2 * raw.slots) },
    extras: arrays.slice(2 * raw.slots),
  };
}
