// Piscina worker: one tfjs instance per thread on the wasm or cpu backend.
import { workerData } from 'worker_threads';
import { loadBackend } from '@certkd/core';
import { VnnlibTask, TaskRecord, runVnnlibTask } from './batch';

let ready: Promise<unknown> | null = null;

export default async function run(task: VnnlibTask): Promise<TaskRecord> {
  const backend = (workerData as { backend?: 'wasm' | 'cpu' } | undefined)?.backend ?? 'wasm';
  ready ??= loadBackend(backend);
  await ready;
  return runVnnlibTask(task);
}
