import * as fs from 'fs';
import * as os from 'os';
import { ConfigError, IoError } from '@certkd/core';

/** What a lock file holds: who writes the run. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the holder took the lock. */
  startedAt: string;
  command: string;
}

/** An unreadable lock younger than this may be one being written (creation and content are one write call). */
const UNREADABLE_GRACE_MS = 10_000;

/**
 * The lock of a run directory: a file created exclusively (O_EXCL), holding the holder's pid,
 * host, start time and command. One process writes a run at a time; a second one is refused
 * with the holder named. A lock whose holder no longer runs on this host is stale and taken
 * over with a warning. The lock is released when the run ends (and, as a last resort, when
 * the process exits); a killed process leaves a stale lock behind.
 */
export class RunLock {
  private held = true;
  private readonly onExit = () => this.release();

  private constructor(
    readonly file: string,
    private readonly text: string,
  ) {
    process.on('exit', this.onExit);
  }

  /**
   * Take the lock at `file` (its directory must exist). Throws ConfigError (exit 2) naming the
   * holder when a live process holds it; `warn` hears about a stale lock that was taken over.
   */
  static acquire(file: string, command: string, warn: (message: string) => void): RunLock {
    const me: LockHolder = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), command };
    const text = JSON.stringify(me) + '\n';
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.writeFileSync(file, text, { flag: 'wx' });
        return new RunLock(file, text);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new IoError(`cannot create the run lock: ${(e as Error).message}`, file, (e as NodeJS.ErrnoException).code);
      }
      const found = readLock(file);
      if (!found) continue; // released meanwhile
      if (!isStale(found)) {
        throw new ConfigError(
          `the run is in use by ${describeHolder(found.holder)}; wait for it to end (a lock left by a process on another host, or by a reused pid, can be removed by hand: ${file})`,
          undefined,
          'run lock',
        );
      }
      // Move the stale lock aside and check it is the one judged stale: a process that took it
      // over meanwhile gets its lock back and is then found live on the next attempt.
      const aside = `${file}.stale-${process.pid}-${Date.now()}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = fs.readFileSync(aside, 'utf8');
      if (moved !== found.raw) {
        try {
          fs.linkSync(aside, file);
        } catch {
          /* someone else holds it now; the next attempt says who */
        }
        fs.rmSync(aside, { force: true });
        continue;
      }
      fs.rmSync(aside, { force: true });
      warn(`took over the stale run lock of ${describeHolder(found.holder)}: that process no longer runs`);
    }
    throw new ConfigError('could not take the run lock (other processes keep taking it)', file);
  }

  /** Remove the lock file if it is still this process's. Safe to call more than once. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    process.off('exit', this.onExit);
    try {
      if (fs.readFileSync(this.file, 'utf8') === this.text) fs.unlinkSync(this.file);
    } catch {
      /* already gone (the run directory was removed) */
    }
  }
}

export interface FoundLock {
  raw: string;
  /** Undefined when the file is not a lock this version wrote (or is being written). */
  holder?: LockHolder;
  mtimeMs: number;
}

/** The lock file's holder, or undefined if the file is gone. */
export function readLock(file: string): FoundLock | undefined {
  try {
    const raw = fs.readFileSync(file, 'utf8');
    const mtimeMs = fs.statSync(file).mtimeMs;
    let holder: LockHolder | undefined;
    try {
      const j = JSON.parse(raw) as Partial<LockHolder>;
      if (Number.isInteger(j.pid) && typeof j.hostname === 'string')
        holder = { pid: j.pid!, hostname: j.hostname, startedAt: String(j.startedAt), command: String(j.command) };
    } catch {
      holder = undefined;
    }
    return { raw, holder, mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether a live process may still hold the lock (holders on other hosts are assumed live). */
export function isLive(found: FoundLock): boolean {
  return !isStale(found);
}

function isStale(found: FoundLock): boolean {
  if (!found.holder) return Date.now() - found.mtimeMs > UNREADABLE_GRACE_MS;
  return found.holder.hostname === os.hostname() && !pidAlive(found.holder.pid);
}

/** Whether process `pid` runs on this host (this process counts as running). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describeHolder(h: LockHolder | undefined): string {
  if (!h) return 'an unknown process (unreadable lock file)';
  return `pid ${h.pid} on host ${h.hostname} since ${h.startedAt} (${h.command})`;
}
