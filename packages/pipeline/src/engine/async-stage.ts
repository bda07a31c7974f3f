import { Observable } from 'rxjs';
import { PipelineEvent } from '@certkd/core';

export type Emit = (e: PipelineEvent) => void;

/** What a run keeps about its stage bodies: how to stop them and which are still running. */
export interface StageLifecycle {
  /** Aborts the run's signal: a stage stops at its next batch (a train stage writes a checkpoint first). */
  controller: AbortController;
  /** Bodies that have not settled yet. */
  pending: Set<Promise<unknown>>;
}

/**
 * Wrap an async stage body as an Observable of events. Work yields to the event loop between
 * batches (see `tick`), so Ctrl-C and progress rendering stay responsive. Unsubscribing while
 * the body runs aborts the run's controller, so the body stops at its next batch; the body
 * stays in `run.pending` until it has settled, so cleanup can wait for it (`afterStagesSettle`).
 */
export function asyncStage(run: StageLifecycle, body: (emit: Emit) => Promise<void>): Observable<PipelineEvent> {
  return new Observable<PipelineEvent>((sub) => {
    let open = true;
    let settled = false;
    // Settled before complete/error: those run the teardown, which must not abort a finished body.
    const tracked: Promise<void> = body((e) => {
      if (open) sub.next(e);
    }).then(
      () => {
        settled = true;
        run.pending.delete(tracked);
        sub.complete();
      },
      (err) => {
        settled = true;
        run.pending.delete(tracked);
        sub.error(err);
      },
    );
    run.pending.add(tracked);
    return () => {
      open = false;
      if (!settled) run.controller.abort();
    };
  });
}

/** Run `fn` once every stage body of the run has settled (at once when none is running). */
export function afterStagesSettle(run: StageLifecycle, fn: () => void): void {
  if (run.pending.size === 0) {
    fn();
    return;
  }
  void Promise.allSettled([...run.pending]).then(() => afterStagesSettle(run, fn));
}

/** Let timers, signals and I/O run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
