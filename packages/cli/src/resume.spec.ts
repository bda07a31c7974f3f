import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithData } from '../../../tools/jest/shared-data.cjs';

const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first

const RECIPE = `name: killme
seed: 11
backend: cpu
dataset:
  name: synthetic
  options: { n: 3000, testN: 200, shape: [8, 8, 1], classes: 4, seed: 2 }
stages:
  - stage: train
    model: net
    architecture: { name: mlp, options: { hidden: [64, 64] } }
    epochs: 5
    batchSize: 16
    optimizer: { lr: 0.003, milestones: [3] }
  - stage: evaluate
`;

const md5 = (f: string) => crypto.createHash('md5').update(fs.readFileSync(f)).digest('hex');

/** Start a run, send `signal` once its first checkpoint exists, and wait for it to end. */
function interrupt(recipe: string, runs: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'run', recipe, '--runs-dir', runs], { stdio: 'ignore' });
    const ck = path.join(runs, 'killme', 'checkpoint', 'state.json');
    const timer = setInterval(() => {
      if (fs.existsSync(ck)) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 20);
    child.on('exit', (code, sig) => {
      clearInterval(timer);
      resolve({ code, signal: sig });
    });
  });
}

describeWithData(MAIN, 'interrupted runs resume to the same result', () => {
  let dir: string;
  let recipe: string;
  let reference: { weights: string; acc: number };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-resume-'));
    recipe = path.join(dir, 'killme.yaml');
    fs.writeFileSync(recipe, RECIPE);
    const r = spawnSync(process.execPath, [bin, 'run', recipe, '--runs-dir', path.join(dir, 'straight')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const run = path.join(dir, 'straight', 'killme');
    reference = {
      weights: md5(path.join(run, 'models', 'net', 'weights.bin')),
      acc: JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8')).clean_acc,
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(['SIGKILL', 'SIGINT'] as NodeJS.Signals[])('after %s', async (signal) => {
    const runs = path.join(dir, signal);
    const ended = await interrupt(recipe, runs, signal);
    if (signal === 'SIGKILL') expect(ended.signal).toBe('SIGKILL');
    else expect(ended.code).toBe(130); // stopped after the current batch, checkpointed
    const run = path.join(runs, 'killme');
    expect(fs.existsSync(path.join(run, 'models', 'net'))).toBe(false); // it really stopped mid-training
    const again = spawnSync(process.execPath, [bin, 'run', recipe, '--runs-dir', runs], { encoding: 'utf8' });
    expect(again.status).toBe(2); // never overwrites a run without --resume
    const resumed = spawnSync(process.execPath, [bin, 'run', recipe, '--runs-dir', runs, '--resume'], { encoding: 'utf8' });
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toContain('resumed');
    expect(md5(path.join(run, 'models', 'net', 'weights.bin'))).toBe(reference.weights);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'results.json'), 'utf8')).clean_acc).toBe(reference.acc);
  });
});
