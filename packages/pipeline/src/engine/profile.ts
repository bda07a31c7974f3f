import * as tf from '@tensorflow/tfjs-core';

/** Kernel time and call count per kernel (or kernel and input shapes), summed over profiled calls. */
export class KernelProfile {
  readonly kernels = new Map<string, { ms: number; calls: number }>();
  wallMs = 0;
  runs = 0;

  constructor(private readonly byShape = false) {}

  /** Run fn under tf.profile, adding its kernels' times; returns fn's result. */
  async record<T>(fn: () => T): Promise<T> {
    let result: T | undefined;
    const t0 = performance.now();
    const info = await tf.profile(() => {
      result = fn();
    });
    this.wallMs += performance.now() - t0;
    this.runs++;
    for (const k of info.kernels) {
      const raw = (await k.kernelTimeMs) as number | { error: string };
      const ms = typeof raw === 'number' ? raw : 0;
      const key = this.byShape ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}` : k.name;
      const e = this.kernels.get(key) ?? { ms: 0, calls: 0 };
      e.ms += ms;
      e.calls++;
      this.kernels.set(key, e);
    }
    return result as T;
  }

  /** Kernel time per recorded run, largest first (kernels under minMs per run left out). */
  rows(minMs = 0.05): { kernel: string; ms: number; calls: number }[] {
    const n = Math.max(1, this.runs);
    return [...this.kernels.entries()]
      .map(([kernel, e]) => ({ kernel, ms: e.ms / n, calls: Math.round(e.calls / n) }))
      .filter((r) => r.ms >= minMs)
      .sort((a, b) => b.ms - a.ms);
  }

  /** A plain-text table: wall and kernel time per run, then one line per kernel. */
  format(label: string): string {
    const n = Math.max(1, this.runs);
    const total = [...this.kernels.values()].reduce((s, e) => s + e.ms, 0) / n;
    const rows = this.rows();
    const width = Math.max(24, ...rows.map((r) => r.kernel.length));
    const lines = [`${label}: ${(this.wallMs / n).toFixed(1)} ms/step wall (profiled), ${total.toFixed(1)} ms/step kernel time, ${this.runs} steps`];
    for (const r of rows)
      lines.push(
        `  ${r.kernel.padEnd(width)} ${r.ms.toFixed(2).padStart(9)} ms ${String(r.calls).padStart(6)} calls  ${((100 * r.ms) / Math.max(total, 1e-9)).toFixed(1).padStart(5)}%`,
      );
    return lines.join('\n');
  }
}
