/**
 * The typed event union every pipeline stage emits. Events come in start/end pairs with
 * stable names (run, stage, epoch); the rest are point events. Sinks (progress bar,
 * JSON-lines log, checkpoint writer, report) subscribe to the one stream.
 */
export type PipelineEvent =
  | {
      type: 'run-start';
      run: string;
      recipe: string;
      backend: string;
      seed: number;
      resumed: boolean;
      /** What provides the backend, and why others were passed over. */ backendDetail?: string;
    }
  | { type: 'run-end'; run: string; wall_s: number; status: 'ok' | 'interrupted' | 'failed' }
  | { type: 'stage-start'; stage: string; index: number; total: number }
  | { type: 'stage-end'; stage: string; index: number; wall_s: number; skipped?: boolean }
  | { type: 'epoch-start'; stage: string; epoch: number; epochs: number; lr: number }
  | {
      type: 'epoch-end';
      stage: string;
      epoch: number;
      epochs: number;
      loss: number;
      parts: Record<string, number>;
      train_acc?: number;
      eps: number;
      lr: number;
      wall_s: number;
      val_acc?: number;
      /** Bound diagnostics of the model at the epoch's end (a train stage's `diagnostics`), by name. */
      diagnostics?: Record<string, number>;
    }
  | {
      type: 'batch-end';
      stage: string;
      epoch: number;
      batch: number;
      batches: number;
      step: number;
      loss: number;
      parts: Record<string, number>;
      eps: number;
      alpha?: number;
      lr: number;
      grad_norm: number;
      ms: number;
    }
  | { type: 'checkpoint'; stage: string; epoch: number; path: string }
  | { type: 'evaluation'; stage: string; model: string; metric: string; value: number; n: number; eps?: number }
  | { type: 'certification-progress'; stage: string; done: number; total: number; verified: number; falsified: number }
  | { type: 'artifact'; stage: string; kind: string; path: string }
  | { type: 'progress'; stage: string; label: string; done: number; total: number }
  | { type: 'log'; stage: string; message: string }
  | { type: 'warning'; stage: string; message: string }
  | { type: 'error'; stage: string; message: string; code: number };

export type PipelineEventType = PipelineEvent['type'];
export type EventOf<T extends PipelineEventType> = Extract<PipelineEvent, { type: T }>;
