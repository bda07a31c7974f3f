import { BackendInfo, EventOf, FeatureTeacher, LoadedDataset, Network, PluginRegistry, DataSplit } from '@certkd/core';
import type { DependencyContainer } from '@certkd/core';
import type { StageLifecycle } from './async-stage';
import { Recipe } from '../recipe/schema';
import { RunPaths } from './run-paths';
import type { RunLock } from './run-lock';

/** A model produced or loaded by a stage, by artifact name. */
export interface ModelArtifact {
  name: string;
  network: Network;
  architecture: string;
  role: 'student' | 'teacher' | 'model';
  /** Directory it is saved in. */
  path: string;
  /** Loss it was trained with (for reports). */
  trainedWith?: string;
}

export interface ModelResults {
  architecture: string;
  role: string;
  clean_acc?: number;
  pgd_acc?: number;
  apgd_acc?: number;
  certified_acc?: number;
  /** Robust accuracy under each attack plugin an evaluate stage names (by attack name). */
  robust_acc?: Record<string, number>;
  /** Fraction of points each incomplete method verifies on its own (an incomplete certify stage). */
  certified_by_method?: Record<string, number>;
  /** Fraction of points verified by each step of the complete escalation (a certify stage with a timeout). */
  decided_by?: Record<string, number>;
  certifier?: string;
  verdicts?: Record<string, number>;
  n_examples?: number;
  eps?: number;
  train_wall_s?: number;
  /** Data-parallel workers that trained the model (1: in-process). */
  train_workers?: number;
  trained_with?: string;
  /** The teacher a distilled student learned from (artifact name). */
  teacher?: string;
  /** Key of the teacher-cache entry a cached train-teacher stage reused. */
  teacher_cache?: string;
  /** Where a load-teacher stage loaded the model from. */
  loaded_from?: string;
}

/** Typed context the stages pass along: data, models, results, services. */
export interface RunContext extends StageLifecycle {
  recipe: Recipe;
  recipeFile: string;
  paths: RunPaths;
  /** The run's container (a child of the process's root container, holding the recipe's plugins). */
  container: DependencyContainer;
  /** The registry of `container`: every plugin a stage creates comes from it. */
  registry: PluginRegistry;
  backend: BackendInfo;
  dataset?: LoadedDataset;
  /** Training split after the validation hold-out and subset. */
  train?: DataSplit;
  validation?: DataSplit;
  test?: DataSplit;
  models: Map<string, ModelArtifact>;
  teachers: Map<string, FeatureTeacher>;
  results: Record<string, ModelResults>;
  /** Epoch history per train stage, for reports. */
  history: Record<string, EpochRecord[]>;
  /** The run's abort signal (of `controller`): aborted by the caller's signal or by unsubscribing. */
  signal: AbortSignal;
  resume: boolean;
  /** Data-parallel workers for every train stage (overrides the recipe's). */
  workers?: 'auto' | number;
  /** Training steps to profile per train stage (0: none). */
  profileSteps: number;
  startedAt: number;
  /** Held while this process writes the run directory; released when the run ends. */
  lock?: RunLock;
  /** Warnings from setting the run up (a stale lock taken over), emitted after run-start. */
  warnings?: string[];
}

/** One epoch's summary, as the epoch-end event carries it. */
export type EpochRecord = Omit<EventOf<'epoch-end'>, 'type' | 'stage' | 'epochs'>;
