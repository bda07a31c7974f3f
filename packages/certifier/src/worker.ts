// Piscina worker: one tfjs instance per thread on the wasm or cpu backend.
// tsyringe (used by @certkd/core) needs the Reflect polyfill in every thread; reflect-metadata comes with @certkd/core.
import 'reflect-metadata';
import { workerData } from 'worker_threads';
import { loadBackend } from '@certkd/core';
import { VnnlibTask, TaskRecord, runVnnlibTaskSafely } from './batch';
import { PointRecord, PointTask, runPointTask } from './points';

let ready: Promise<unknown> | null = null;

export default async function run(task: VnnlibTask | PointTask): Promise<TaskRecord | PointRecord> {
  const backend = (workerData as { backend?: 'wasm' | 'cpu' } | undefined)?.backend ?? 'wasm';
  ready ??= loadBackend(backend);
  await ready;
  if ('type' in task && task.type === 'point') return runPointTask(task);
  return runVnnlibTaskSafely(task as VnnlibTask);
}
