import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithData } from '../../../tools/jest/shared-data.cjs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeSentinel, snapshot, diffSnapshots } = require('../../../tools/jest/sentinel.cjs');

// Issue #16: run names, --force, validation before side effects, run locks, exit codes and
// plugin trust, each checked on the built command as a user runs it.
const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first
const certkd = (args: string[], cwd: string) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120000 });

const DATA = 'dataset: { name: synthetic, options: { n: 32, testN: 8, shape: [6, 6, 1], classes: 3 } }\n';
const TRAIN = '{ stage: train, model: net, architecture: { name: mlp, options: { hidden: [8] } }, epochs: 1, batchSize: 8 }';
const tinyRecipe = (name: string, extra = '') => `name: ${name}\nbackend: cpu\n${DATA}${extra}stages: [${TRAIN}]\n`;

/** One line on stderr, no stack trace. */
const expectOneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

describeWithData(MAIN, 'certkd run hardening (#16)', () => {
  let dir: string;
  let work: string;
  let runs: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-hard-'));
    // dir/ holds a sentinel tree; dir/work is the working directory (sentinel too) with runs/ in it.
    makeSentinel(dir);
    work = makeSentinel(path.join(dir, 'work'));
    runs = path.join(work, 'runs');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
    return f;
  };

  it('refuses run names that leave the runs folder, and --force never deletes outside it', () => {
    const ok = write('ok.yaml', tinyRecipe('ok'));
    const dots = write('dots.yaml', tinyRecipe('".."'));
    const dot = write('dot.yaml', tinyRecipe('"."'));
    const before = snapshot(dir);
    const cases: [string[], RegExp][] = [
      [[dots, '--force'], /dots\.yaml: name: a single folder name.*\(got "\.\."\)/],
      [[dot, '--force'], /dot\.yaml: name: a single folder name.*\(got "\."\)/],
      [[ok, '--name', '.', '--force'], /--name: got "\."/],
      [[ok, '--name', '..', '--force'], /--name: got "\.\."/],
      [[ok, '--name', work, '--force'], /--name: got "\//],
      [[ok, '--name', '../../etc/x'], /--name: got "\.\.\/\.\.\/etc\/x"/],
      [[ok, '--name', 'a/b', '--force'], /--name: got "a\/b"/],
    ];
    for (const [args, msg] of cases) {
      const r = certkd(['run', ...args], work);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expectOneLine(r.stderr);
    }
    expect(diffSnapshots(before, snapshot(dir))).toEqual([]);
    expect(fs.existsSync(runs)).toBe(false);
  });

  it('--force replaces only a recognisable run directory', () => {
    const f = write('r.yaml', tinyRecipe('r'));
    const mine = path.join(runs, 'mine');
    fs.mkdirSync(mine, { recursive: true });
    fs.writeFileSync(path.join(mine, 'thesis.tex'), 'precious\n');
    const r = certkd(['run', f, '--runs-dir', runs, '--name', 'mine', '--force'], work);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--force: --force replaces only a CertKD run directory/);
    expect(fs.readFileSync(path.join(mine, 'thesis.tex'), 'utf8')).toBe('precious\n');
    // A symbolic link named like the run is never followed.
    fs.symlinkSync(path.join(dir, 'keep'), path.join(runs, 'link'));
    const l = certkd(['run', f, '--runs-dir', runs, '--name', 'link', '--force'], work);
    expect(l.status).toBe(2);
    expect(l.stderr).toContain('a symbolic link');
    expect(fs.readFileSync(path.join(dir, 'keep', 'a.txt'), 'utf8')).toBe('sentinel a\n');
  });

  it('validates datasets, plugins, architectures and losses before creating the run directory', () => {
    const f = path.join(dir, 'v.yaml');
    const bad: [string, RegExp][] = [
      [tinyRecipe('v').replace('name: synthetic', 'name: nope'), /v\.yaml: dataset\.name: unknown dataset 'nope'; registered: /],
      [tinyRecipe('v').replace('classes: 3', 'classes: 3, foo: 1'), /v\.yaml: dataset\.options\.foo: unknown option\(s\) 'foo'/],
      [tinyRecipe('v').replace('classes: 3', 'classes: -3'), /v\.yaml: dataset\.options\.classes: /],
      [tinyRecipe('v', 'plugins: [./missing-plugin.js]\n'), /v\.yaml: plugins\.0: cannot load plugin package '\.\/missing-plugin\.js'/],
      [tinyRecipe('v').replace('name: mlp', 'name: resnet'), /v\.yaml: stages\.0\.architecture\.name: unknown architecture 'resnet'/],
      [tinyRecipe('v').replace('hidden: [8]', 'hidden: [8], width: 3'), /v\.yaml: stages\.0\.architecture\.options\.width: /],
      [
        tinyRecipe('v').replace('epochs: 1', 'epochs: 1, loss: { name: no-such-loss }'),
        /v\.yaml: stages\.0\.loss\.name: unknown certified-loss 'no-such-loss'/,
      ],
      [tinyRecipe('v').replace('batchSize: 8', 'batchSize: 1e9'), /v\.yaml: stages\.0\.batchSize: .*65536/],
      [tinyRecipe('v').replace('epochs: 1', 'epochs: 1, teacher: t'), /v\.yaml: stages\.0\.teacher: unknown teacher 't'/],
    ];
    for (const [text, msg] of bad) {
      fs.writeFileSync(f, text);
      const r = certkd(['run', f, '--runs-dir', runs], work);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(msg);
      expectOneLine(r.stderr);
      expect(fs.existsSync(runs)).toBe(false);
    }
    // The corrected recipe then runs under the same name (no "already exists").
    fs.writeFileSync(f, tinyRecipe('v'));
    const ok = certkd(['run', f, '--runs-dir', runs], work);
    expect(ok.stderr).not.toContain('already exists');
    expect(ok.status).toBe(0);
  });

  it('numeric options must be finite, in range and integers where counts are meant', () => {
    const model = path.join(dir, 'no-model');
    const cases: [string[], string][] = [
      [['certify', model, '--dataset', 'mnist', '--eps', '0.1', '--n', '-5'], "--n: must be a positive integer, got '-5'"],
      [['certify', model, '--dataset', 'mnist', '--eps', '0.1', '--n', '1.5'], "--n: must be a positive integer, got '1.5'"],
      [['certify', model, '--dataset', 'mnist', '--eps', 'NaN'], "--eps: expected a number, got 'NaN'"],
      [['certify', model, '--dataset', 'mnist', '--eps', '-0.1'], "--eps: must be at least 0, got '-0.1'"],
      [['certify', model, '--dataset', 'mnist', '--eps', '0.1', '--timeout', '0'], "--timeout: must be a positive number, got '0'"],
      [['certify', model, '--dataset', 'mnist', '--eps', '0.1', '--workers', '1.5'], "--workers: must be a non-negative integer, got '1.5'"],
      [['certify', model, '--dataset', 'nope', '--eps', '0.1'], "--dataset: unknown dataset 'nope'"],
      [['attack', model, '--dataset', 'mnist', '--eps', '0.1', '--n', '0'], "--n: must be a positive integer, got '0'"],
      [['attack', model, '--dataset', 'mnist', '--eps', '0.1', '--seed', '-1'], "--seed: must be a non-negative integer, got '-1'"],
      [['attack', model, '--dataset', 'mnist', '--eps', ''], "--eps: expected a number, got ''"],
      [['bounds', model, '--input', 'x.json', '--eps', '-1'], "--eps: must be at least 0, got '-1'"],
      [['run', write('s.yaml', tinyRecipe('s')), '--seed', '1e400'], "--seed: must be a non-negative integer, got '1e400'"],
      [['run', path.join(dir, 's.yaml'), '--workers', '2.5'], "--workers: must be a positive integer or 'auto', got '2.5'"],
      [['run', path.join(dir, 's.yaml'), '--profile', '-1'], "--profile: must be a positive integer, got '-1'"],
    ];
    for (const [args, msg] of cases) {
      const r = certkd(args, work);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toContain(msg);
      expectOneLine(r.stderr);
    }
    expect(fs.existsSync(runs)).toBe(false);
  });

  it('refuses a plugin path outside the recipe folder unless --allow-external-plugins', () => {
    // The plugin leaves a mark when its code runs.
    const mark = path.join(dir, 'outside', 'ran');
    write('outside/plugin.js', `require('fs').writeFileSync(${JSON.stringify(mark)}, 'x'); exports.register = () => {};\n`);
    const f = write('recipes/p.yaml', tinyRecipe('p', 'plugins: [../outside/plugin.js]\n').replace('name: synthetic', 'name: nope'));
    const r = certkd(['run', f, '--runs-dir', runs], work);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml: plugins\.0: plugin '\.\.\/outside\/plugin\.js' resolves to .*outside the recipe's folder.*--allow-external-plugins/);
    expectOneLine(r.stderr);
    expect(fs.existsSync(mark)).toBe(false);
    // Allowed explicitly, it loads (and the run then stops at the unknown dataset).
    const a = certkd(['run', f, '--runs-dir', runs, '--allow-external-plugins'], work);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/dataset\.name: unknown dataset 'nope'/);
    expect(fs.existsSync(mark)).toBe(true);
    // A plugin next to the recipe loads without the flag.
    write('recipes/local.js', 'exports.register = () => {};\n');
    fs.writeFileSync(f, tinyRecipe('p', 'plugins: [./local.js]\n').replace('name: synthetic', 'name: nope'));
    expect(certkd(['run', f, '--runs-dir', runs], work).stderr).toMatch(/dataset\.name: unknown dataset 'nope'/);
  });

  describe('run lock', () => {
    let live: ChildProcess | undefined;
    afterEach(() => {
      if (live && live.exitCode === null) live.kill('SIGKILL');
      live = undefined;
    });

    const exited = (c: ChildProcess) =>
      new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.on('exit', (code) => resolve(code))));
    const waitFor = async (file: string, ms = 60000) => {
      const t0 = Date.now();
      while (!fs.existsSync(file)) {
        if (Date.now() - t0 > ms) throw new Error(`${file} did not appear`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    it('a second writer is refused while the run is live; the lock goes with SIGINT', async () => {
      const long = write('long.yaml', tinyRecipe('long').replace('n: 32', 'n: 4000').replace('epochs: 1', 'epochs: 500, workers: 1'));
      live = spawn(process.execPath, [bin, 'run', long, '--runs-dir', runs], { cwd: work, stdio: 'ignore' });
      const run = path.join(runs, 'long');
      await waitFor(path.join(run, 'checkpoint', 'state.json'));
      const lock = JSON.parse(fs.readFileSync(path.join(run, 'run.lock'), 'utf8'));
      expect(lock).toMatchObject({ pid: live.pid, hostname: os.hostname() });
      const log = fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8');
      for (const flag of ['--resume', '--force']) {
        const r = certkd(['run', long, '--runs-dir', runs, flag], work);
        expect(r.status).toBe(2);
        expect(r.stderr).toContain(`run lock: the run is in use by pid ${live.pid} on host ${os.hostname()} since ${lock.startedAt}`);
        expectOneLine(r.stderr);
      }
      // The live run's log is intact and holds one run-start.
      const now = fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8');
      expect(now.startsWith(log)).toBe(true);
      expect(now.match(/"run-start"/g)).toHaveLength(1);
      live.kill('SIGINT');
      expect(await exited(live)).toBe(130);
      expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
    });

    it('a stale lock (its process is gone) is taken over with a warning', () => {
      const f = write('st.yaml', tinyRecipe('st'));
      const run = path.join(runs, 'st');
      fs.mkdirSync(run, { recursive: true });
      fs.writeFileSync(path.join(run, 'recipe.yaml'), 'old\n');
      const gone = spawnSync(process.execPath, ['-e', '0']).pid;
      fs.writeFileSync(
        path.join(run, 'run.lock'),
        JSON.stringify({ pid: gone, hostname: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: 'certkd run st.yaml' }),
      );
      const r = certkd(['run', f, '--runs-dir', runs, '--force'], work);
      expect(r.status).toBe(0);
      expect(r.stderr).toContain(`warning: took over the stale run lock of pid ${gone}`);
      expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
      expect(fs.readFileSync(path.join(run, 'recipe.yaml'), 'utf8')).toContain('name: st');
    });
  });
});
