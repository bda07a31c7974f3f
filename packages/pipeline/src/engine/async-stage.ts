import { Observable } from 'rxjs';
import { PipelineEvent } from '@certkd/core';

export type Emit = (e: PipelineEvent) => void;

/**
 * Wrap an async stage body as an Observable of events. Work yields to the event loop between
 * batches (see `tick`), so Ctrl-C and progress rendering stay responsive.
 */
export function asyncStage(body: (emit: Emit) => Promise<void>): Observable<PipelineEvent> {
  return new Observable<PipelineEvent>((sub) => {
    let open = true;
    body((e) => {
      if (open) sub.next(e);
    }).then(
      () => sub.complete(),
      (err) => sub.error(err),
    );
    return () => {
      open = false;
    };
  });
}

/** Let timers, signals and I/O run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
