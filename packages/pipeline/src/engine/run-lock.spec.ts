import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { RunLock } from './run-lock';
import { RunPaths } from './run-paths';

describe('RunLock', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-lock-'));
    file = path.join(dir, 'run.lock');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const holder = (pid: number, hostname = os.hostname()) =>
    fs.writeFileSync(file, JSON.stringify({ pid, hostname, startedAt: '2024-05-01T10:00:00.000Z', command: 'certkd run r.yaml' }) + '\n');
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid;

  it('holds pid, host, start time and command, and is released once', () => {
    const lock = RunLock.acquire(file, 'certkd run r.yaml', () => {});
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, hostname: os.hostname(), command: 'certkd run r.yaml' });
    expect(() => RunLock.acquire(file, 'again', () => {})).toThrow(ConfigError);
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    lock.release();
    RunLock.acquire(file, 'after', () => {}).release();
  });

  it('refuses a live holder, naming pid, host and start time; exit code 2', () => {
    const parent = process.ppid; // alive for the whole test
    holder(parent);
    try {
      RunLock.acquire(file, 'x', () => {});
      throw new Error('acquired');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).exitCode).toBe(2);
      expect((e as Error).message).toContain(`in use by pid ${parent} on host ${os.hostname()} since 2024-05-01T10:00:00.000Z (certkd run r.yaml)`);
    }
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(parent);
  });

  it('takes over a stale lock on this host with a warning, but never one of another host', () => {
    const gone = deadPid();
    holder(gone);
    const warnings: string[] = [];
    const lock = RunLock.acquire(file, 'x', (w) => warnings.push(w));
    expect(warnings).toEqual([expect.stringContaining(`stale run lock of pid ${gone} on host ${os.hostname()}`)]);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
    holder(gone, 'some-other-host');
    expect(() => RunLock.acquire(file, 'x', () => {})).toThrow(/in use by pid \d+ on host some-other-host/);
  });

  it('an unreadable lock is held while fresh (being written) and stale once old', () => {
    fs.writeFileSync(file, '');
    expect(() => RunLock.acquire(file, 'x', () => {})).toThrow(/an unknown process/);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    const warnings: string[] = [];
    RunLock.acquire(file, 'x', (w) => warnings.push(w)).release();
    expect(warnings).toHaveLength(1);
  });

  it('releases only its own lock', () => {
    const lock = RunLock.acquire(file, 'x', () => {});
    holder(process.ppid); // someone replaced it (e.g. by hand)
    lock.release();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.ppid);
  });
});

describe('RunPaths.forRun', () => {
  it('accepts one safe path component and refuses everything else, naming the field', () => {
    expect(RunPaths.forRun('/r', 'mnist-0.3_a').root).toBe(path.resolve('/r/mnist-0.3_a'));
    for (const bad of ['.', '..', '', '../x', 'a/b', '/abs', '-x', '.hidden', 'a b', 'x'.repeat(101)]) {
      expect(() => RunPaths.forRun('/r', bad, 'r.yaml', 'name')).toThrow(`r.yaml: name: got ${JSON.stringify(bad)}; use a single folder name`);
      expect(() => RunPaths.forRun('/r', bad, undefined, '--name')).toThrow(ConfigError);
    }
  });
});
