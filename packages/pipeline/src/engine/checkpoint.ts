import * as fs from 'fs';
import * as path from 'path';
import { AdamState, ModelFormatError, Network, loadModel, saveModel, writeDirAtomic } from '@certkd/core';
import { EpochRecord } from './context';

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
    fs.writeFileSync(path.join(tmp, 'optimizer.bin'), new Uint8Array(buf.buffer));
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ ...ck, sizes, slots: adam.m.length }, null, 1));
  });
}

export interface LoadedCheckpoint {
  state: TrainCheckpoint;
  network: Network;
  adam: AdamState;
  extras: Float32Array[];
}

export function readCheckpoint(dir: string): LoadedCheckpoint | undefined {
  const stateFile = path.join(dir, 'state.json');
  if (!fs.existsSync(stateFile)) return undefined;
  const raw = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TrainCheckpoint & { sizes: number[]; slots: number };
  const bytes = fs.readFileSync(path.join(dir, 'optimizer.bin'));
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const need = raw.sizes.reduce((a, b) => a + b, 0);
  if (all.length !== need) throw new ModelFormatError(`optimizer state holds ${all.length} values, expected ${need}`, path.join(dir, 'optimizer.bin'));
  const arrays: Float32Array[] = [];
  let off = 0;
  for (const n of raw.sizes) {
    arrays.push(all.slice(off, off + n));
    off += n;
  }
  const { network } = loadModel(path.join(dir, 'model'));
  return {
    state: raw,
    network,
    adam: { step: raw.adamStep, m: arrays.slice(0, raw.slots), v: arrays.slice(raw.slots, 2 * raw.slots) },
    extras: arrays.slice(2 * raw.slots),
  };
}
