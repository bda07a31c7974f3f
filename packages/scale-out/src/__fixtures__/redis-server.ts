import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

/** Whether Debian's redis-server is on the PATH. Under CI=true its absence is an error, not a skip. */
export function redisAvailable(): boolean {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!found && process.env.CI === 'true') {
    throw new Error('redis-server is not installed, and CI=true: install it (apt-get install -y redis-server; .ci/run does) so the scale-out tests run');
  }
  return found;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server on a loopback port, with its files in `dir`. */
export class RedisServer {
  private proc?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
    readonly aof = false,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(dir: string, aof = false): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), dir, aof);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const persistence = this.aof ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--appendonly', 'no', '--save', ''];
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}: ${out}`));
      });
    });
    proc.removeAllListeners('exit');
    fs.writeFileSync(path.join(this.dir, 'redis.port'), String(this.port));
  }

  /** Stop it (SIGKILL: nothing is saved beyond what the AOF already holds). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }
}
