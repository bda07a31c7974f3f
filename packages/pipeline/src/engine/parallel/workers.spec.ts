import { CALIBRATION_STEPS, CALIBRATION_WARMUP, WorkerCalibration } from './workers';

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
