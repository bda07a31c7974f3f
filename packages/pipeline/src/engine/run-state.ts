import * as fs from 'fs';
import { z } from 'zod';
import { writeFileAtomic } from '@certkd/core';
import { EpochRecord, ModelResults } from './context';
import { readStateJson } from './checkpoint';

/** What a run has finished, persisted after every stage so --resume can skip it. */
export interface RunState {
  recipeHash: string;
  completed: {
    index: number;
    stage: string;
    models: { name: string; role: string; architecture: string; path: string; trainedWith?: string }[];
    teachers: { name: string; path: string; tap: string }[];
  }[];
  results: Record<string, ModelResults>;
  history: Record<string, EpochRecord[]>;
  wall_s: number;
}

/** The fields resume relies on; results and history are carried along as written. */
const runStateSchema = z
  .object({
    recipeHash: z.string(),
    completed: z.array(
      z.object({ index: z.number().int().nonnegative(), stage: z.string(), models: z.array(z.unknown()), teachers: z.array(z.unknown()) }).loose(),
    ),
    results: z.record(z.string(), z.unknown()),
    history: z.record(z.string(), z.array(z.unknown())),
    wall_s: z.number(),
  })
  .loose();

/** Read a run's state.json; undefined when there is none. A truncated or malformed one throws a CheckpointError naming it. */
export function readRunState(file: string): RunState | undefined {
  if (!fs.existsSync(file)) return undefined;
  return readStateJson(file, runStateSchema, 'rerun with --force to start the run afresh (or delete the run directory)') as unknown as RunState;
}

export function writeRunState(file: string, s: RunState): void {
  writeFileAtomic(file, JSON.stringify(s, null, 1));
}
