import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RedisServer, redisAvailable } from '../../scale-out/src/__fixtures__/redis-server';
import { requireData } from '../../../tools/jest/shared-data.cjs';

// End-to-end tests of `certkd sweep` and `certkd worker` on the shipped smoke sweep: the local
// back-end and BullMQ on a real redis-server, a job process or a worker killed with SIGKILL
// mid-run, a Redis restart, and certification shards. They spawn the built CLI.
const bin = path.resolve(__dirname, '../bin/certkd.js');
// The built CLI and scale-out child (Nx builds them first): missing under CI is a failure, elsewhere a skip.
const built = requireData([path.resolve(__dirname, '../dist/main.js'), path.resolve(__dirname, '../../scale-out/dist/child.js')], 'certkd sweep tests');
const SMOKE = path.resolve(__dirname, '../../../recipes/sweeps/smoke.yaml');
const RUNS = ['smoke-alpha0-seed0', 'smoke-alpha0-seed1', 'smoke-alpha0.5-seed0', 'smoke-alpha0.5-seed1'];
const haveRedis = built && redisAvailable();

const md5 = (f: string) => crypto.createHash('md5').update(fs.readFileSync(f)).digest('hex');
const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (store: string, run: string) =>
  fs
    .readFileSync(path.join(store, run, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; status?: string; resumed?: boolean });
const okEnds = (store: string, run: string) => events(store, run).filter((e) => e.type === 'run-end' && e.status === 'ok').length;

async function waitFor<T>(what: string, f: () => T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A student run that has written a checkpoint but not finished: returns the pid of the process holding its lock. */
function midRun(store: string, runs: string[]): { run: string; pid: number } | undefined {
  for (const run of runs) {
    const dir = path.join(store, run);
    if (!fs.existsSync(path.join(dir, 'checkpoint', 'state.json')) || fs.existsSync(path.join(dir, 'models', 'student'))) continue;
    try {
      const lock = JSON.parse(fs.readFileSync(path.join(dir, 'run.lock'), 'utf8')) as { pid: number };
      return { run, pid: lock.pid };
    } catch {
      /* between attempts */
    }
  }
  return undefined;
}

const parentOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);

function worker(url: string, store: string, extra: string[] = []): ChildProcess & { log: string[] } {
  const p = spawn(process.execPath, [bin, 'worker', '--redis', url, '--store', store, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] }) as ChildProcess & {
    log: string[];
  };
  p.log = [];
  p.stderr!.on('data', (d: Buffer) => p.log.push(d.toString()));
  return p;
}

async function stopWorkers(ws: ChildProcess[]): Promise<void> {
  await Promise.all(
    ws.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.exitCode !== null || w.signalCode !== null) return resolve();
          w.once('exit', () => resolve());
          w.kill('SIGTERM');
        }),
    ),
  );
}

function status(
  sweep: string,
  store: string,
  redis?: string,
): { counts: Record<string, number>; jobs: { name: string; state: string; attempts: number; error?: string }[] } {
  const r = cli(['sweep', 'status', sweep, '--store', store, '--json', ...(redis ? ['--redis', redis] : [])]);
  if (r.status !== 0) throw new Error(`sweep status failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let dir: string;
const local = () => path.join(dir, 'local');
/** Runs killed mid-way, per store (they resume; the others ran straight through). */
const interrupted = new Map<string, string>();
/** The run's student weights from a store where it ran straight through. */
const straightCopies = new Map<string, string>();
/** A store holding `run` trained straight through: a back-end that did not kill it, else one plain `certkd run` of its recipe. */
const straight = (run: string): string => {
  const found = [local(), path.join(dir, 'redis-store')].find(
    (s) => interrupted.get(s) !== run && fs.existsSync(path.join(s, run, 'models', 'student', 'weights.bin')),
  );
  if (found) return found;
  if (!straightCopies.has(run)) {
    // Both back-ends happened to kill this run: train its recipe once without interruption.
    const source = [...interrupted.keys()].find((s) => fs.existsSync(path.join(s, run, 'recipe.yaml')))!;
    const out = path.join(dir, 'straight-store');
    const r = cli(['run', path.join(source, run, 'recipe.yaml'), '--runs-dir', out, '--name', run, '--json']);
    if (r.status !== 0) throw new Error(`straight run of ${run} failed: ${r.stderr}`);
    straightCopies.set(run, out);
  }
  return straightCopies.get(run)!;
};
const studentMd5 = (store: string, run: string) => md5(path.join(store, run, 'models', 'student', 'weights.bin'));
const resumedFromCheckpoint = (store: string, run: string) =>
  fs.readFileSync(path.join(store, run, 'events.jsonl'), 'utf8').includes('resumed student at epoch');
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-sweep-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A sweep file in the temp folder on the smoke base recipe. */
function sweepFile(name: string, body: string): string {
  const f = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(f, `name: ${name}\nrecipe: ${path.resolve(path.dirname(SMOKE), 'smoke-base.yaml')}\n${body}`);
  return f;
}

(built ? describe : describe.skip)('certkd sweep, local back-end', () => {
  let killed: string;
  let code: number | null;
  beforeAll(async () => {
    // Two runs at once; one job process is killed with SIGKILL after its first checkpoint.
    const p = spawn(process.execPath, [bin, 'sweep', SMOKE, '--store', local(), '--concurrency', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
    const victim = await waitFor('a run with a checkpoint', () => midRun(local(), RUNS), 90_000, 20);
    process.kill(victim.pid, 'SIGKILL');
    killed = victim.run;
    interrupted.set(local(), killed);
    code = await exited;
    if (code !== 0) throw new Error(`sweep failed (${code}): ${err}`);
  }, 120_000);

  it('runs every job once; the killed run is retried and resumes from its checkpoint', () => {
    expect(code).toBe(0);
    for (const run of RUNS) expect(okEnds(local(), run)).toBe(1);
    expect(events(local(), killed).filter((e) => e.type === 'run-start')).toHaveLength(2);
    expect(resumedFromCheckpoint(local(), killed)).toBe(true);
    // The shared teachers were trained once each, as their own runs.
    expect(fs.readdirSync(path.join(local(), '_teachers')).filter((d) => d.startsWith('teacher-'))).toHaveLength(2);
    const s = status(SMOKE, local());
    expect(s.counts).toEqual({ queued: 0, running: 0, done: 6, failed: 0 });
  });

  it('writes the sweep report: a row per setting, paired differences by seed', () => {
    const rep = path.join(local(), '_sweeps', 'smoke');
    for (const f of ['report.md', 'report.html', 'report.json', 'settings.png', 'pairs.png']) expect(fs.existsSync(path.join(rep, f))).toBe(true);
    const r = JSON.parse(fs.readFileSync(path.join(rep, 'report.json'), 'utf8'));
    expect(r.settings.map((s: { setting: string }) => s.setting)).toEqual(['smoke-alpha0', 'smoke-alpha0.5']);
    expect(r.settings[0].metrics.certified_acc.n).toBe(2);
    expect(r.pairs).toHaveLength(1);
    const res = (run: string) => JSON.parse(fs.readFileSync(path.join(local(), run, 'results.json'), 'utf8')).certified_acc as number;
    const diffs = [0, 1].map((seed) => res(`smoke-alpha0.5-seed${seed}`) - res(`smoke-alpha0-seed${seed}`));
    expect(r.pairs[0].diff.certified_acc.mean).toBeCloseTo((diffs[0] + diffs[1]) / 2, 10);
    expect(r.pairs[0].seeds).toEqual([0, 1]);
    // A dotted metric reaches inside results.json: the shared (loaded) teacher is a model of each run.
    const teacherAcc = (run: string) => JSON.parse(fs.readFileSync(path.join(local(), run, 'results.json'), 'utf8')).teacher.clean_acc as number;
    expect(r.settings[0].metrics['teacher.clean_acc'].mean).toBeCloseTo((teacherAcc('smoke-alpha0-seed0') + teacherAcc('smoke-alpha0-seed1')) / 2, 10);
    expect(fs.readFileSync(path.join(rep, 'report.html'), 'utf8')).toContain('data:image/png;base64,');
  });

  it('refuses a bad sweep file with exit 2 naming the file and the field, before running anything', () => {
    const f = sweepFile('bad', 'grid:\n  stages.nosuch.epochs: [1, 2]\n');
    const r = cli(['sweep', f, '--store', path.join(dir, 'bad-store')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toContain('grid.stages.nosuch.epochs');
    const g = sweepFile('bad2', 'grid:\n  stages.student.epochs: [0]\n');
    const r2 = cli(['sweep', g, '--store', path.join(dir, 'bad-store')]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('stages.1.epochs');
    expect(fs.existsSync(path.join(dir, 'bad-store'))).toBe(false);
  });

  it('fails a run with a bad recipe once, without retrying it, naming the run', () => {
    const f = sweepFile('broken', 'grid:\n  dataset.options.bogus: [1]\n');
    const store = path.join(dir, 'broken-store');
    const r = cli(['sweep', f, '--store', store]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('broken-bogus1');
    expect(r.stderr.split('run broken-bogus1: running')).toHaveLength(2); // started once
    const s = status(f, store);
    expect(s.jobs[0]).toMatchObject({ name: 'broken-bogus1', state: 'failed' });
    expect(s.jobs[0].error).toContain('bogus');
  });
});

(haveRedis ? describe : describe.skip)('certkd sweep and certkd worker on Redis', () => {
  let redis: RedisServer;
  const store = () => path.join(dir, 'redis-store');
  const workers: (ChildProcess & { log: string[] })[] = [];
  let killed: string;
  beforeAll(async () => {
    redis = await RedisServer.start(path.join(dir, 'redis'));
    const r = cli(['sweep', SMOKE, '--redis', redis.url, '--store', store()]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('enqueued 6 job(s)');
    const again = cli(['sweep', SMOKE, '--redis', redis.url, '--store', store()]);
    expect(again.stderr).toContain('enqueued 0 job(s)');
    expect(again.stderr).toContain('6 already queued or done');
    const opts = ['--lock-duration', '2000', '--stalled-interval', '500'];
    workers.push(worker(redis.url, store(), opts), worker(redis.url, store(), opts));
    // Kill the worker running a student run after its first checkpoint; a fresh worker joins.
    const victim = await waitFor('a run with a checkpoint', () => midRun(store(), RUNS), 90_000, 20);
    const w = workers.find((x) => x.pid === parentOf(victim.pid))!;
    expect(w).toBeDefined();
    w.kill('SIGKILL');
    killed = victim.run;
    interrupted.set(store(), killed);
    workers.push(worker(redis.url, store(), opts));
    await waitFor('every job done', () => status(SMOKE, store(), redis.url).counts.done === 6, 120_000, 1000);
  }, 180_000);
  afterAll(async () => {
    await stopWorkers(workers);
    await redis?.kill();
  });

  it('completes every run exactly once, with the weights of the local back-end', () => {
    const s = status(SMOKE, store(), redis.url);
    expect(s.counts).toEqual({ queued: 0, running: 0, done: 6, failed: 0 });
    for (const run of RUNS) {
      expect(okEnds(store(), run)).toBe(1);
      if (interrupted.get(local()) === run || interrupted.get(store()) === run) continue; // compared below
      expect(studentMd5(store(), run)).toBe(studentMd5(local(), run));
      expect(JSON.parse(fs.readFileSync(path.join(store(), run, 'results.json'), 'utf8')).certified_acc).toBe(
        JSON.parse(fs.readFileSync(path.join(local(), run, 'results.json'), 'utf8')).certified_acc,
      );
    }
    // The killed worker's run was handed on and resumed from its checkpoint.
    expect(events(store(), killed).filter((e) => e.type === 'run-start')).toHaveLength(2);
    expect(resumedFromCheckpoint(store(), killed)).toBe(true);
    expect(s.jobs.find((j) => j.name === killed)!.attempts).toBeGreaterThanOrEqual(1);
    expect(cli(['sweep', 'report', SMOKE, '--store', store()]).status).toBe(0);
  });

  it('a run resumed after a kill ends with the weights of an uninterrupted run', () => {
    for (const [s, run] of interrupted) expect(studentMd5(s, run)).toBe(studentMd5(straight(run), run));
  });

  it('fails a bad recipe without retrying it and reports it with the run name', async () => {
    const f = sweepFile('broken', 'grid:\n  dataset.options.bogus: [1]\n');
    expect(cli(['sweep', f, '--redis', redis.url, '--store', store()]).status).toBe(0);
    const s = await waitFor(
      'the job to fail',
      () => {
        const x = status(f, store(), redis.url);
        return x.counts.failed === 1 && x;
      },
      30_000,
      300,
    );
    expect(s.jobs[0].attempts).toBe(1);
    expect(s.jobs[0].error).toContain('run broken-bogus1');
    expect(s.jobs[0].error).toContain('bogus');
  });

  it('certify --redis splits points into shard jobs and writes each point once, as certify does', () => {
    const model = path.join(local(), 'smoke-alpha0.5-seed0', 'models', 'student');
    const args = [
      'certify',
      model,
      '--dataset',
      'synthetic',
      '--eps',
      '0.05',
      '--n',
      '12',
      '--timeout',
      '2',
      '--methods',
      'ibp,crown',
      '--backend',
      'cpu',
      '--json',
    ];
    const here = cli([...args, '--out', path.join(dir, 'here.jsonl')]);
    expect(here.status).toBe(0);
    const out = path.join(dir, 'sharded.jsonl');
    const sharded = cli([...args, '--out', out, '--redis', redis.url, '--shard-size', '4']);
    expect(sharded.status).toBe(0);
    const strip = (f: string) =>
      fs
        .readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map(({ verdict: { time_s: _t, ...v }, ...r }) => ({ ...r, verdict: v }))
        .sort((a, b) => a.index - b.index);
    const a = strip(path.join(dir, 'here.jsonl'));
    const b = strip(out);
    expect(b.map((r) => r.key)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    expect(b).toEqual(a);
    const { certified_acc } = JSON.parse(here.stdout);
    expect(JSON.parse(sharded.stdout).certified_acc).toBe(certified_acc);
    // A rerun finds every point done and enqueues nothing.
    const rerun = cli([...args, '--out', out, '--redis', redis.url]);
    expect(rerun.status).toBe(0);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(12);
  });
});

(haveRedis ? describe : describe.skip)('workers across a Redis restart', () => {
  it('reconnect, and every run completes once', async () => {
    const redis = await RedisServer.start(path.join(dir, 'redis-aof'), true);
    const store = path.join(dir, 'restart-store');
    const f = sweepFile('restart', 'grid:\n  stages.student.loss.options.alpha: [0.5]\n  seed: [1]\n');
    const runs = ['restart-alpha0.5-seed1'];
    const ws = [
      worker(redis.url, store, ['--lock-duration', '10000', '--stalled-interval', '2000']),
      worker(redis.url, store, ['--lock-duration', '10000', '--stalled-interval', '2000']),
    ];
    try {
      expect(cli(['sweep', f, '--redis', redis.url, '--store', store]).status).toBe(0);
      await waitFor('a run with a checkpoint', () => midRun(store, runs), 90_000, 20);
      await redis.kill('SIGKILL');
      await sleep(1500);
      await redis.start();
      await waitFor('the run done', () => status(f, store, redis.url).counts.done === 1, 90_000, 1000);
      const s = status(f, store, redis.url);
      expect(s.counts).toEqual({ queued: 0, running: 0, done: 1, failed: 0 });
      for (const run of runs) expect(okEnds(store, run)).toBe(1);
      // Trained in-run here, shared in the smoke sweep: the student ends the same.
      expect(studentMd5(store, runs[0])).toBe(studentMd5(straight('smoke-alpha0.5-seed1'), 'smoke-alpha0.5-seed1'));
    } finally {
      await stopWorkers(ws);
      await redis.kill();
    }
  }, 150_000);
});
