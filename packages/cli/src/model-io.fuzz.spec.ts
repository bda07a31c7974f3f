import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ARCHITECTURES, Network, SeededRng, architectureOptions, saveModel } from '@certkd/core';
import { exportOnnx } from '@certkd/interop';
import { describeWithData } from '../../../tools/jest/shared-data.cjs';

// The real command on hostile model files and a full disk: exit 0 or 2, one line on stderr,
// no stack trace, and nothing outside the output directory created, changed or removed.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeSentinel, snapshot, diffSnapshots } = require('../../../tools/jest/sentinel.cjs');

const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first

/**
 * Preloaded into the command: fs.writeSync writes at most 4 KiB per call and throws ENOSPC
 * once CERTKD_TEST_DISK_BYTES bytes are written in all, like a nearly full disk.
 */
const FULL_DISK = `'use strict';
const fs = require('fs');
const real = fs.writeSync;
let left = Number(process.env.CERTKD_TEST_DISK_BYTES);
fs.writeSync = function (fd, buf, off, len, ...rest) {
  if (typeof buf === 'string' || !Number.isFinite(left)) return real.call(fs, fd, buf, off, len, ...rest);
  off = off ?? 0;
  len = len ?? buf.byteLength - off;
  if (left <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const n = real.call(fs, fd, buf, off, Math.min(len, left, 4096), ...rest);
  left -= n;
  return n;
};
`;

describeWithData(MAIN, 'certkd on hostile model files and a full disk', () => {
  let root: string;
  let out: string;
  let model: string;
  let preload: string;
  const certkd = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [...(env.CERTKD_TEST_DISK_BYTES ? ['-r', preload] : []), bin, ...args], {
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, ...env },
    });
  /** Exit 0, or 2 with exactly one line on stderr and no stack trace. */
  const expectCleanEnd = (r: ReturnType<typeof certkd>, label: string) => {
    expect({ label, status: r.status, signal: r.signal }).toEqual({ label, status: r.status === 0 ? 0 : 2, signal: null });
    if (r.status !== 0) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^certkd: \w+Error: /);
    }
    expect(r.stderr).not.toMatch(/\n\s+at |unexpected failure/);
  };

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-modelio-'));
    makeSentinel(root);
    out = path.join(root, 'out');
    fs.mkdirSync(out);
    preload = path.join(root, 'keep', 'full-disk.cjs');
    fs.writeFileSync(preload, FULL_DISK);
    const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small')!.build(
      { shape: [10, 10, 1], classes: 3, mean: [0.5], std: [0.25] },
      architectureOptions.parse({ hidden: [8] }),
    );
    const net = Network.create(spec, new SeededRng(5));
    model = path.join(root, 'keep', 'model');
    saveModel(net, model);
    fs.writeFileSync(path.join(root, 'keep', 'model.onnx'), exportOnnx(net, { batch: 'dynamic' }));
    fs.writeFileSync(path.join(root, 'keep', 'x.json'), JSON.stringify(Array(100).fill(0.5)));
    net.dispose();
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('export on a full disk exits 2 naming the file and the reason; the old file stays, no temp file is left', () => {
    const before = snapshot(root, [out]);
    const target = path.join(out, 'm.onnx');
    fs.writeFileSync(target, 'previous export');
    const r = certkd(['export', model, '--onnx', target], { CERTKD_TEST_DISK_BYTES: '8192' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`certkd: IoError: ${target}: no space left on device (ENOSPC)\n`);
    expect(fs.readdirSync(out)).toEqual(['m.onnx']);
    expect(fs.readFileSync(target, 'utf8')).toBe('previous export');
    // With room, the same command writes the whole file and says so.
    const ok = certkd(['export', model, '--onnx', target], { CERTKD_TEST_DISK_BYTES: String(1e9) });
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain(`certkd: wrote ${target}`);
    expect(fs.readFileSync(target)).toEqual(fs.readFileSync(path.join(root, 'keep', 'model.onnx')));
    expect(diffSnapshots(before, snapshot(root, [out]))).toEqual([]);
    fs.rmSync(target);
  });

  it('export onto an existing directory exits 2 with "is a directory" and writes nothing', () => {
    const target = path.join(out, 'dir.onnx');
    fs.mkdirSync(target);
    const before = snapshot(root);
    const r = certkd(['export', model, '--onnx', target]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`certkd: IoError: ${target}: is a directory (EISDIR)\n`);
    expect(diffSnapshots(before, snapshot(root))).toEqual([]);
    fs.rmSync(target, { recursive: true });
  });

  it('export of a model whose folded BatchNorm overflows exits 2 and writes no ONNX', () => {
    const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small')!.build(
      { shape: [10, 10, 1], classes: 3, mean: [0.5], std: [0.25] },
      architectureOptions.parse({ hidden: [8], batchnorm: true }),
    );
    const net = Network.create(spec, new SeededRng(6));
    const i = net.layers.findIndex((l) => l.kind === 'batchnorm');
    net.param(i, 'gamma').assign(net.param(i, 'gamma').mul(3e38));
    net.param(i, 'movingVariance').assign(net.param(i, 'movingVariance').mul(0));
    const bad = path.join(out, 'overflow-model');
    saveModel(net, bad);
    net.dispose();
    const before = snapshot(root);
    const r = certkd(['export', bad, '--onnx', path.join(out, 'o.onnx')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^certkd: ModelFormatError: initializer 'layers\.\d+\.(weight|bias)' would hold -?Infinity at index \d+; refusing to export a network whose weights are not finite\n$/,
    );
    expect(diffSnapshots(before, snapshot(root))).toEqual([]);
    fs.rmSync(bad, { recursive: true });
  });

  it('export and bounds on mutated model directories and ONNX files exit 0 or 2 with one line, touching nothing outside the output directory', () => {
    const rng = new SeededRng(99);
    const before = snapshot(root, [out]);
    const json = fs.readFileSync(path.join(model, 'model.json'), 'utf8');
    const weights = fs.readFileSync(path.join(model, 'weights.bin'));
    const onnxBytes = fs.readFileSync(path.join(root, 'keep', 'model.onnx'));
    const dirMutants: [string, (d: string) => void][] = [
      ['truncated weights', (d) => fs.writeFileSync(path.join(d, 'weights.bin'), weights.subarray(0, 1000))],
      ['NaN weight', (d) => fs.writeFileSync(path.join(d, 'weights.bin'), Buffer.from(weights).fill(0xff, 40, 44))],
      ['path escape', (d) => fs.writeFileSync(path.join(d, 'model.json'), json.replace('"weights.bin"', '"../../keep/nested/b.bin"'))],
      ['huge shape', (d) => fs.writeFileSync(path.join(d, 'model.json'), json.replace(/"shape": \[\s*4,/, '"shape": [ 4000000000,'))],
      ['2 GiB weights', (d) => fs.truncateSync(path.join(d, 'weights.bin'), 2 ** 31)],
      ['cut model.json', (d) => fs.writeFileSync(path.join(d, 'model.json'), json.slice(0, 300))],
    ];
    for (const [label, damage] of dirMutants) {
      const d = path.join(out, 'mutant');
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'model.json'), json);
      fs.writeFileSync(path.join(d, 'weights.bin'), weights);
      damage(d);
      const r = certkd(['export', d, '--onnx', path.join(out, 'x.onnx')]);
      expectCleanEnd(r, label);
      expect({ label, status: r.status }).toEqual({ label, status: 2 });
      fs.rmSync(d, { recursive: true });
    }
    for (let k = 0; k < 4; k++) {
      const b = Buffer.from(onnxBytes);
      if (k === 0) b.writeFloatLE(NaN, b.length - 40);
      else for (let n = 0; n < 4; n++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      const f = path.join(out, `m${k}.onnx`);
      fs.writeFileSync(f, k === 3 ? b.subarray(0, rng.int(b.length)) : b);
      const r = certkd(['bounds', f, '--input', path.join(root, 'keep', 'x.json'), '--eps', '0.01', '--method', 'ibp', '--json']);
      expectCleanEnd(r, `onnx mutant ${k}`);
    }
    expect(diffSnapshots(before, snapshot(root, [out]))).toEqual([]);
  });
});
