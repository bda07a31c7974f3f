import * as fs from 'fs';
import { writeFileAtomic } from '@certkd/core';
import { EpochRecord, ModelResults } from './context';

/** What a run has finished, persisted after every stage so --resume can skip it. */
export interface RunState {
  recipeHash: string;
  completed: { index: number; stage: string; models: { name: string; role: string; architecture: string; path: string; trainedWith?: string }[]; teachers: { name: string; path: string; tap: string }[] }[];
  results: Record<string, ModelResults>;
  history: Record<string, EpochRecord[]>;
  wall_s: number;
}

export function readRunState(file: string): RunState | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RunState;
}

export function writeRunState(file: string, s: RunState): void {
  writeFileAtomic(file, JSON.stringify(s, null, 1));
}
