import type { Observable } from 'rxjs';
import type { PipelineEvent, PluginRegistry } from '@certkd/core';
import type { RunContext } from './context';
import type { RunState } from './run-state';

/** What validateRecipe knows while it walks the stages in order. */
export interface StageScope {
  registry: PluginRegistry;
  /** Recipe file (errors name it). */
  file: string;
  /** Models trained or loaded by the stages before (artifact names); a stage appends the ones it makes. */
  models: string[];
  /** Teachers available to the stages after (artifact names). */
  teachers: string[];
}

/** The record of a finished stage in state.json (what resume restores). */
export type CompletedStage = RunState['completed'][number];

/**
 * What a stage plugin creates from its recipe entry (the entry is the plugin's options, so its
 * schema checks every field of it). The engine emits stage-start and stage-end around `run`.
 */
export interface PipelineStage {
  /** Checks against the stages before, with no side effect; record the models and teachers the stage makes. */
  validate?(scope: StageScope, where: string): void;
  /** The stage body: the events between stage-start and stage-end. Stages are run in recipe order. */
  run(ctx: RunContext, index: number): Observable<PipelineEvent>;
  /** After the body completed: record the artifacts resume must restore. */
  complete?(ctx: RunContext, entry: CompletedStage): void;
}

/** One run's writer of events, opened by a sink plugin. */
export interface EventWriter {
  write(e: PipelineEvent): void;
  /** Called once the run has ended and its stages have settled. */
  close(): void;
}

/** What a sink plugin creates: it opens a writer for each run it is attached to. */
export interface PipelineSink {
  open(ctx: RunContext): EventWriter;
}

declare module '@certkd/core' {
  interface PluginContracts {
    stage: PipelineStage;
    sink: PipelineSink;
  }
}
