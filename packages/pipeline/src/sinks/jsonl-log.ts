import * as fs from 'fs';
import * as path from 'path';
import { PipelineEvent, writeFileAtomic } from '@certkd/core';

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

const FIXED = ['stage', 'epoch', 'loss', 'train_acc', 'val_acc', 'eps', 'lr', 'wall_s'];

/**
 * Epoch-end metrics as CSV rows: the fixed columns, then one per loss part and one per
 * diagnostic (diag.<name>). Stages of one run report different parts (a teacher's adv, a
 * student's cc-ibp and distill): a row with a column the header lacks rewrites the file whole
 * (atomically) with the wider header, earlier rows left blank there; otherwise rows are appended.
 */
export class MetricsCsv {
  private fd: number | undefined;
  private columns: string[] | undefined;
  private rows: string[][] = [];
  constructor(private readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (fs.existsSync(file) && fs.statSync(file).size > 0) {
      const lines = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0);
      this.columns = lines[0].split(',').slice(FIXED.length);
      this.rows = lines.slice(1).map((l) => l.split(','));
    }
  }
  write(e: PipelineEvent): void {
    if (e.type !== 'epoch-end') return;
    const values: Record<string, number | string | undefined> = { ...e.parts };
    for (const [k, v] of Object.entries(e.diagnostics ?? {})) values[`diag.${k}`] = v;
    const keys = Object.keys(values).sort();
    const row = (columns: string[]) => [
      e.stage,
      String(e.epoch),
      String(e.loss),
      String(e.train_acc ?? ''),
      String(e.val_acc ?? ''),
      String(e.eps),
      String(e.lr),
      e.wall_s.toFixed(2),
      ...columns.map((c) => String(values[c] ?? '')),
    ];
    const fresh = keys.filter((k) => !this.columns?.includes(k));
    if (!this.columns || fresh.length) {
      const columns = [...(this.columns ?? []), ...fresh];
      const width = FIXED.length + columns.length;
      const old = this.rows.map((r) => [...r, ...Array<string>(Math.max(0, width - r.length)).fill('')]);
      this.columns = columns;
      this.rows = [...old, row(columns)];
      this.close();
      writeFileAtomic(this.file, [[...FIXED, ...columns], ...this.rows].map((r) => r.join(',') + '\n').join(''));
      return;
    }
    const r = row(this.columns);
    this.rows.push(r);
    this.fd ??= fs.openSync(this.file, 'a');
    fs.writeSync(this.fd, r.join(',') + '\n');
  }
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
