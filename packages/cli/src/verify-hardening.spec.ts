// Regression tests for `certkd verify` hardening (issue #16), run on the built command.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { describeWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first
const shared = sharedPath('vnncomp', '2021');
const NET = path.join(shared, 'test/test_sat.onnx'); // 5 inputs, 5 outputs
const PROP = path.join(shared, 'test/test_prop.vnnlib');
const MNIST = path.join(shared, 'mnistfc/mnist-net_256x2.onnx');
const certkd = (args: string[], cwd = process.cwd()) => {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120000 });
  return { ...r, wallS: (Date.now() - t0) / 1000 };
};
const decl5 = [0, 1, 2, 3, 4].flatMap((i) => [`(declare-const X_${i} Real)`, `(declare-const Y_${i} Real)`]).join('\n');
const box5 = [0, 1, 2, 3, 4].map((i) => `(assert (>= X_${i} 0.3))\n(assert (<= X_${i} 0.5))`).join('\n');

describeWithData([MAIN, NET, MNIST], 'certkd verify hardening', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-verify-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string | Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('--timeout covers reading and parsing the property: a slow-to-parse property answers timeout close to the limit', () => {
    const lines = [decl5];
    for (let k = 0; k < 160_000; k++) lines.push(`(assert (>= X_${k % 5} -${1 + (k % 1000) / 1e4}))`, `(assert (<= X_${k % 5} ${1 + (k % 997) / 1e4}))`);
    lines.push('(assert (<= Y_0 Y_1))');
    const prop = write('big.vnnlib', lines.join('\n'));
    const r = certkd(['verify', NET, prop, '--timeout', '1', '--backend', 'cpu']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('timeout');
    expect(r.wallS).toBeLessThan(1 + 1.5);
  }, 60000);

  it('--timeout holds for a 1000-disjunct property on an MNIST network (once 16 s for --timeout 10)', () => {
    const src = fs.readFileSync(path.join(shared, 'mnistfc/prop_0_0.05.vnnlib'), 'utf8');
    const label = Number(/label: (\d+)/.exec(src)![1]);
    const d = Array.from({ length: 1000 }, (_, i) => {
      const j = i % 10 === label ? (label + 1) % 10 : i % 10;
      return `(and (>= Y_${j} (+ Y_${label} ${i * 1e-4})))`;
    });
    const prop = write('d1000.vnnlib', `${src.slice(0, src.indexOf('(assert (or'))}(assert (or ${d.join('\n')}))\n`);
    const r = certkd(['verify', MNIST, prop, '--timeout', '4', '--backend', 'wasm']);
    expect(r.status).toBe(0);
    expect(['timeout', 'unsat', 'sat']).toContain(r.stdout.split('\n')[0]);
    expect(r.wallS).toBeLessThan(4 + 1.5);
  }, 60000);

  it('an always-true output constraint answers sat with a counterexample inside the box', () => {
    const prop = write('true.vnnlib', `${decl5}\n${box5}\n(assert (<= Y_0 Y_0))\n`);
    const out = path.join(dir, 'res.txt');
    const r = certkd(['verify', NET, prop, '--timeout', '20', '--backend', 'cpu', '--out', out]);
    expect(r.status).toBe(0);
    const res = fs.readFileSync(out, 'utf8');
    expect(res.split('\n')[0]).toBe('sat');
    for (const m of res.matchAll(/\(X_\d+ ([^)]+)\)/g)) expect(Number(m[1])).toBeGreaterThanOrEqual(0.3 - 1e-7);
    expect([...res.matchAll(/\(Y_\d+ ([^)]+)\)/g)].every((m) => Number.isFinite(Number(m[1])))).toBe(true);
  }, 60000);

  it('every bad input exits 2 with one line naming the file and the reason, never 1 or a stack trace', () => {
    const cases: [string, string[], RegExp][] = [
      ['missing onnx', ['verify', path.join(dir, 'none.onnx'), PROP], /none\.onnx/],
      ['missing vnnlib', ['verify', NET, path.join(dir, 'none.vnnlib')], /none\.vnnlib.*cannot read/],
      ['vnnlib is a folder', ['verify', NET, dir], /cannot read/],
      ['NaN constant', ['verify', NET, write('nan.vnnlib', `${decl5}\n${box5}\n(assert (<= Y_0 NaN))`)], /nan\.vnnlib:\d+:\d+: 'NaN' is not a finite number/],
      ['overflowing row', ['verify', NET, write('inf.vnnlib', `${decl5}\n${box5}\n(assert (<= (* 1e300 1e300 Y_0) 0))`)], /inf\.vnnlib:\d+:\d+: .*non-finite/],
      [
        'empty box',
        ['verify', NET, write('empty.vnnlib', `${decl5}\n${box5}\n(assert (>= X_2 0.9))\n(assert (<= Y_0 Y_1))`)],
        /empty\.vnnlib:\d+:\d+: the input box is empty: X_2/,
      ],
      [
        'form feed',
        ['verify', NET, write('ff.vnnlib', `${decl5}\n${box5}\n(assert (<= Y_0\u000c\u000bY_1\u00a0))\n\u0001`)],
        /ff\.vnnlib:\d+:\d+: unexpected control character U\+0001/,
      ],
      [
        'random bytes',
        ['verify', NET, write('rand.vnnlib', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)))],
        /rand\.vnnlib:\d+:\d+: /,
      ],
      [
        'deep nesting',
        ['verify', NET, write('deep.vnnlib', `${decl5}\n${box5}\n(assert ${'(and '.repeat(50000)}(<= Y_0 0)${')'.repeat(50000)})`)],
        /deep\.vnnlib:\d+:\d+: parentheses nested deeper/,
      ],
      [
        'gzip garbage',
        ['verify', NET, write('bad.vnnlib.gz', Buffer.concat([zlib.gzipSync('(declare-const X_0 Real)').subarray(0, 12), Buffer.from('junk')]))],
        /bad\.vnnlib\.gz: cannot decompress/,
      ],
      [
        'wrong input count',
        [
          'verify',
          NET,
          write('x1.vnnlib', '(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (<= Y_0 0))'),
        ],
        /declares 1 inputs but the model has 5/,
      ],
      ['bad timeout', ['verify', NET, PROP, '--timeout', '0'], /timeout/],
    ];
    for (const [what, args, re] of cases) {
      // (the 'auto' backend may print tfjs-node registration warnings; the cpu backend keeps stderr to our message)
      const r = certkd([...args, '--backend', 'cpu']);
      expect([what, r.status]).toEqual([what, 2]);
      expect([what, r.stdout]).toEqual([what, '']);
      const lines = r.stderr.split('\n').filter(Boolean);
      expect([what, lines.length]).toEqual([what, 1]);
      expect(lines[0]).toMatch(re);
      expect(lines[0]).not.toMatch(/\s+at .*\.js:\d+/);
    }
  }, 120000);

  it('--instances: missing files are errors retried later; the closing count covers every instance in the out file', () => {
    for (const sub of ['A', 'B']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.copyFileSync(NET, path.join(dir, sub, 'net.onnx'));
      fs.copyFileSync(PROP, path.join(dir, sub, 'prop.vnnlib'));
    }
    const csv = write('instances.csv', 'A/net.onnx,A/prop.vnnlib,60\nB/net.onnx,B/prop.vnnlib,60\nC/net.onnx,C/prop.vnnlib,60\n');
    const out = path.join(dir, 'out.jsonl');
    const run = () => certkd(['verify', '--instances', csv, '--out', out, '--timeout', '20', '--backend', 'cpu']);
    const r1 = run();
    expect(r1.status).toBe(0);
    const last1 = r1.stdout.trim().split('\n').pop()!;
    expect(last1).toMatch(/^3 instances: .*1 error.*\(3 run now, 0 earlier; error instances are run again/);
    fs.mkdirSync(path.join(dir, 'C'));
    fs.copyFileSync(NET, path.join(dir, 'C', 'net.onnx'));
    fs.copyFileSync(PROP, path.join(dir, 'C', 'prop.vnnlib'));
    const r2 = run();
    expect(r2.status).toBe(0);
    const lines2 = r2.stdout.trim().split('\n');
    // only C runs again, and the count still covers A and B
    expect(lines2.slice(0, -1).map((l) => l.split(':')[0])).toEqual(['C/net.onnx,C/prop.vnnlib']);
    expect(lines2[lines2.length - 1]).toMatch(/^3 instances: /);
    expect(lines2[lines2.length - 1]).toMatch(/\(1 run now, 2 earlier; results in /);
    expect(lines2[lines2.length - 1]).not.toMatch(/error/);
  }, 120000);

  it('--instances takes --relaxation (in this thread) and refuses it with --workers', () => {
    fs.mkdirSync(path.join(dir, 'A'));
    fs.copyFileSync(NET, path.join(dir, 'A', 'net.onnx'));
    fs.copyFileSync(PROP, path.join(dir, 'A', 'prop.vnnlib'));
    const csv = write('instances.csv', 'A/net.onnx,A/prop.vnnlib,60\n');
    const out = path.join(dir, 'out.jsonl');
    const plugin = path.resolve(__dirname, '../../examples/relaxation-zero-slope');
    const base = ['verify', '--instances', csv, '--out', out, '--timeout', '20', '--backend', 'cpu', '--relaxation', 'relu=zero-slope', '--plugin', plugin];
    const r = certkd(base);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^A\/net\.onnx,A\/prop\.vnnlib: (sat|unsat|unknown|timeout)$/m);
    const refused = certkd([...base, '--workers', '1']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--relaxation: --relaxation with --instances runs every instance in this thread/);
    const unknown = certkd(['verify', '--instances', csv, '--out', out, '--backend', 'cpu', '--relaxation', 'relu=zero-slope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--relaxation\.relu: unknown relaxation 'zero-slope'/);
  }, 120000);
});
