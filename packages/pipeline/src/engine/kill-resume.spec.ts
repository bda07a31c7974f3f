import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { CancelledError, PipelineEvent } from '@certkd/core';
import { parseRecipe } from '../recipe/load-recipe';
import { runRecipe } from './run-recipe';

// A run killed with SIGKILL resumes from its last checkpoint, often one written at an epoch's
// end. The copy of the run directory taken when that checkpoint is reported stands for the
// directory the kill leaves behind. Losses that draw random numbers (the training attack) must
// resume to the same weights too: the epoch after the checkpoint starts its own generator.
describe.each([
  ['distill-loss', 'cc-dist', { alpha: 0.1 }],
  ['certified-loss', 'cc-ibp', { alpha: 0.3 }],
])('resume from an epoch-end checkpoint, as after SIGKILL (%s %s)', (kind, name, options) => {
  it('ends with the weights of an uninterrupted run', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-kill-'));
    const recipe = parseRecipe({
      name: 'kill',
      seed: 0,
      backend: 'cpu',
      eps: 0.05,
      dataset: { name: 'synthetic', options: { n: 96, testN: 8, shape: [8, 8, 1], classes: 4, seed: 3, noise: 0.9 } },
      stages: [
        {
          stage: 'train-teacher',
          model: 'teacher',
          architecture: { name: 'mlp', options: { hidden: [16] } },
          loss: { kind: 'teacher', name: 'pgd-at', options: { steps: 1, stepSize: 1.25 } },
          epochs: 1,
          batchSize: 32,
          workers: 1,
          eps: { max: 0.05 },
        },
        {
          stage: 'train-student',
          model: 'student',
          teacher: 'teacher',
          architecture: { name: 'mlp', options: { hidden: [16] } },
          loss: { kind, name, options },
          epochs: 3,
          batchSize: 32,
          workers: 1,
          eps: { max: 0.05, start: 0, ramp: 1 },
        },
      ],
    });
    const go = (run: string, opts: { resume?: boolean; signal?: AbortSignal } = {}, on: (e: PipelineEvent) => void = () => undefined) =>
      lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, 'kill.yaml'), runsDir: dir, name: run, ...opts }).pipe(tap(on), toArray()));
    await go('straight');
    const controller = new AbortController();
    const left = path.join(dir, 'left-behind');
    await expect(
      go('killed', { signal: controller.signal }, (e) => {
        if (e.type === 'checkpoint' && e.stage === 'train-student' && e.epoch === 1 && !fs.existsSync(left)) {
          fs.cpSync(path.join(dir, 'killed'), left, { recursive: true });
          controller.abort();
        }
      }),
    ).rejects.toBeInstanceOf(CancelledError);
    fs.rmSync(path.join(dir, 'killed'), { recursive: true });
    fs.renameSync(left, path.join(dir, 'killed'));
    // The copy holds this (live) process's lock; a killed holder's lock is taken over (run-lock.spec).
    fs.rmSync(path.join(dir, 'killed', 'run.lock'), { force: true });
    await go('killed', { resume: true });
    const weights = (run: string) => fs.readFileSync(path.join(dir, run, 'models', 'student', 'weights.bin'));
    expect(weights('killed').equals(weights('straight'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
