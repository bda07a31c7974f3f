import * as os from 'os';
import { ConfigError, ortThreads, setOrtThreads } from '@certkd/core';
import type { RunContext } from '../context';
import type { TrainStage } from '../../recipe/schema';
import { CALIBRATION_STEPS, CALIBRATION_WARMUP, resolveWorkers, WorkerCalibration, workerOrtThreads } from './workers';

describe('WorkerCalibration', () => {
  const feed = (c: WorkerCalibration, ms: number, n: number) => Array.from({ length: n }, () => c.record(ms)).filter(Boolean);

  it('times in-process steps, then worker steps (after warm-up each), and keeps the faster', () => {
    const c = new WorkerCalibration(2);
    expect(feed(c, 1000, CALIBRATION_WARMUP)).toEqual([]); // warm-up steps are not timed
    expect(feed(c, 200, CALIBRATION_STEPS)).toEqual(['start-workers']);
    expect(feed(c, 5000, CALIBRATION_WARMUP)).toEqual([]);
    expect(feed(c, 120, CALIBRATION_STEPS)).toEqual(['decided']);
    expect(c.done).toBe(true);
    expect(c.workersWin).toBe(true);
    expect(c.describe()).toBe(
      'workers: auto: 120 ms/step on 2 worker threads, 200 ms/step in-process: training on 2 worker threads (set workers to a number to choose)',
    );
    expect(feed(c, 1, 5)).toEqual([]);
  });

  it('stays in-process when the workers are not clearly faster', () => {
    const c = new WorkerCalibration(3);
    feed(c, 100, CALIBRATION_WARMUP + CALIBRATION_STEPS);
    feed(c, 97, CALIBRATION_WARMUP + CALIBRATION_STEPS);
    expect(c.workersWin).toBe(false);
    expect(c.describe()).toMatch(/training in-process/);
  });
});

describe('workers x onnxruntime threads', () => {
  const saved = ortThreads();
  afterEach(() => setOrtThreads(saved));
  const ctx = (backend: string) => ({ backend: { name: backend }, profileSteps: 0, recipeFile: 'r.yaml' }) as unknown as RunContext;
  const stage = (workers: number | 'auto') => ({ workers, batchSize: 128 }) as unknown as TrainStage;

  it("splits the main thread's intra-op threads between the workers, at least one each", () => {
    setOrtThreads(4);
    expect(workerOrtThreads('onnxruntime', 2)).toBe(2);
    expect(workerOrtThreads('onnxruntime', 3)).toBe(1);
    expect(workerOrtThreads('onnxruntime', 8)).toBe(1);
    expect(workerOrtThreads('wasm', 2)).toBeUndefined();
  });

  it('offers workers on onnxruntime (calibrated under auto, logged with the split) but not on tensorflow', () => {
    setOrtThreads(4);
    expect(resolveWorkers(ctx('onnxruntime'), stage(2), 'stages.student', { totalSteps: 1000 })).toEqual({
      count: 2,
      message: 'data-parallel training on 2 worker threads x 2 onnxruntime threads',
    });
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    const auto = resolveWorkers(ctx('onnxruntime'), stage('auto'), 'stages.student', { totalSteps: 1000 });
    if (cores >= 2) expect(auto).toEqual({ count: Math.min(cores, 4), calibrate: true, split: expect.stringMatching(/^ x \d+ onnxruntime threads?$/) });
    else expect(auto).toEqual({ count: 1 });
    expect(() => resolveWorkers(ctx('tensorflow'), stage(2), 'stages.student', { totalSteps: 1000 })).toThrow(ConfigError);
  });

  it('names the split in the calibration line', () => {
    const c = new WorkerCalibration(2, ' x 1 onnxruntime thread');
    for (const ms of [0, 0, ...Array(CALIBRATION_STEPS).fill(200), 0, 0, ...Array(CALIBRATION_STEPS).fill(150)]) c.record(ms);
    expect(c.describe()).toBe(
      'workers: auto: 150 ms/step on 2 worker threads x 1 onnxruntime thread, 200 ms/step in-process: training on 2 worker threads x 1 onnxruntime thread (set workers to a number to choose)',
    );
  });
});
