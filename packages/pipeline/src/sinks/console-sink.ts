import { PipelineEvent } from '@certkd/core';
import type { SingleBar } from 'cli-progress';

const fmt = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * Human output: a progress bar per epoch on a TTY, plain lines otherwise (about every 10% of an
 * epoch), and a line for every stage, epoch, evaluation and checkpoint.
 */
export class ConsoleSink {
  private bar: SingleBar | undefined;
  private lastPlain = 0;
  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly tty = !!process.stderr.isTTY,
  ) {}

  private line(s: string): void {
    if (this.bar) this.bar.stop();
    this.bar = undefined;
    this.out.write(s + '\n');
  }

  write(e: PipelineEvent): void {
    switch (e.type) {
      case 'run-start':
        this.line(
          `certkd: run ${e.run} (recipe ${e.recipe}) on backend ${e.backend}${e.backendDetail ? ` (${e.backendDetail})` : ''}, seed ${e.seed}${e.resumed ? ', resumed' : ''}`,
        );
        break;
      case 'stage-start':
        this.line(`[${e.index}/${e.total - 1}] ${e.stage}`);
        break;
      case 'stage-end':
        this.line(`  ${e.stage} ${e.skipped ? 'already done (resumed)' : `done in ${e.wall_s.toFixed(1)} s`}`);
        break;
      case 'epoch-start':
        if (this.tty) {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { SingleBar, Presets } = require('cli-progress') as typeof import('cli-progress');
          this.bar = new SingleBar(
            { format: `  epoch ${e.epoch}/${e.epochs} [{bar}] {value}/{total} loss {loss} eps {eps} {ms} ms/batch`, hideCursor: true, stream: this.out },
            Presets.shades_classic,
          );
          this.bar.start(1, 0, { loss: '-', eps: '-', ms: '-' });
        }
        break;
      case 'batch-end':
        if (this.bar) {
          this.bar.setTotal(e.batches);
          this.bar.update(e.batch, { loss: fmt(e.loss), eps: fmt(e.eps, 3), ms: e.ms.toFixed(0) });
        } else if (e.batch === e.batches || e.batch - this.lastPlain >= Math.max(1, Math.round(e.batches / 10)) || e.batch < this.lastPlain) {
          this.lastPlain = e.batch;
          this.line(`  epoch ${e.epoch} batch ${e.batch}/${e.batches} loss ${fmt(e.loss)} eps ${fmt(e.eps, 3)} ${e.ms.toFixed(0)} ms/batch`);
        }
        break;
      case 'epoch-end': {
        const parts = Object.entries(e.parts)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', ');
        this.line(
          `  epoch ${e.epoch}/${e.epochs}: loss ${fmt(e.loss)}${parts ? ` (${parts})` : ''}` +
            `${e.train_acc !== undefined ? `, train acc ${pct(e.train_acc)}` : ''}${e.val_acc !== undefined ? `, val acc ${pct(e.val_acc)}` : ''}, eps ${fmt(e.eps, 3)}, lr ${Number(e.lr.toPrecision(3))}, ${e.wall_s.toFixed(1)} s`,
        );
        this.lastPlain = 0;
        break;
      }
      case 'evaluation':
        this.line(`  ${e.model}: ${e.metric} = ${pct(e.value)} on ${e.n} test points${e.eps !== undefined ? ` at eps ${e.eps}` : ''}`);
        break;
      case 'progress':
      case 'certification-progress':
        if (!this.tty && e.done !== e.total) break;
        if (this.tty) this.out.write(`\r  ${'label' in e ? e.label : 'certify'} ${e.done}/${e.total}${e.done === e.total ? '\n' : ''}`);
        break;
      case 'checkpoint':
        break;
      case 'artifact':
        this.line(`  wrote ${e.kind}: ${e.path}`);
        break;
      case 'log':
        this.line(`  ${e.message}`);
        break;
      case 'warning':
        this.line(`  warning: ${e.message}`);
        break;
      case 'error':
        this.line(`certkd: error: ${e.message}`);
        break;
      case 'run-end':
        this.line(`certkd: run ${e.run} ${e.status} after ${e.wall_s.toFixed(1)} s`);
        break;
    }
  }
  close(): void {
    this.bar?.stop();
  }
}
