import * as fs from 'fs';
import * as path from 'path';
import { PipelineEvent } from '@certkd/core';

/** Appends every event as one JSON line (with a timestamp); flushed per line so a crash loses nothing written. */
export class JsonlLog {
  private fd: number;
  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }
  write(e: PipelineEvent): void {
    fs.writeSync(this.fd, JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Epoch-end metrics as CSV rows (header written once). */
export class MetricsCsv {
  private fd: number;
  private parts: string[] | undefined;
  constructor(private readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const exists = fs.existsSync(file) && fs.statSync(file).size > 0;
    this.fd = fs.openSync(file, 'a');
    if (exists) this.parts = fs.readFileSync(file, 'utf8').split('\n')[0].split(',').slice(8);
  }
  write(e: PipelineEvent): void {
    if (e.type !== 'epoch-end') return;
    if (!this.parts) {
      this.parts = Object.keys(e.parts).sort();
      fs.writeSync(this.fd, ['stage', 'epoch', 'loss', 'train_acc', 'val_acc', 'eps', 'lr', 'wall_s', ...this.parts].join(',') + '\n');
    }
    const row = [e.stage, e.epoch, e.loss, e.train_acc, e.val_acc ?? '', e.eps, e.lr, e.wall_s.toFixed(2), ...this.parts.map((p) => e.parts[p] ?? '')];
    fs.writeSync(this.fd, row.join(',') + '\n');
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}
