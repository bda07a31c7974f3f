import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithData, itWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

// Runs the built command (npm test builds first), as a user would.
const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first
const shared = sharedPath('vnncomp', '2021', 'mnistfc');
const certkd = (args: string[], cwd = process.cwd()) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 120000 });

describeWithData(MAIN, 'certkd command', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-cli-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('plugins lists every kind with the built-in plugins', () => {
    const r = certkd(['plugins']);
    expect(r.status).toBe(0);
    for (const s of [
      'dataset:',
      'mnist',
      'architecture:',
      'cnn-small',
      'bound-method:',
      'alpha-crown',
      'attack:',
      'apgd-ce',
      'certified-loss:',
      'cc-ibp',
      'distill-loss:',
      'cc-dist',
    ]) {
      expect(r.stdout).toContain(s);
    }
    const json = JSON.parse(certkd(['plugins', '--json', '--kind', 'attack']).stdout);
    expect(json.map((p: { name: string }) => p.name)).toEqual(['apgd-ce', 'fgsm', 'pgd']);
  });

  it('an invalid recipe exits 2 naming the file, the field and the allowed values, and writes nothing', () => {
    const f = path.join(dir, 'bad.yaml');
    fs.writeFileSync(f, 'name: bad\nbackend: gpu\ndataset: { name: mnist }\nstages: [{ stage: evaluate }]\n');
    const r = certkd(['run', f, '--runs-dir', path.join(dir, 'runs')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bad.yaml: backend: got "gpu"; allowed values: "auto", "tensorflow", "onnxruntime", "wasm", "cpu"');
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('an unknown plugin name exits 2 with the registered names', () => {
    const f = path.join(dir, 'r.yaml');
    fs.writeFileSync(f, 'name: r\nbackend: cpu\ndataset: { name: nope }\nstages: [{ stage: evaluate }]\n');
    const r = certkd(['run', f, '--runs-dir', path.join(dir, 'runs')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown dataset 'nope'; registered: cifar10, fashion-mnist, imagenet64, mnist/);
  });

  it('run --workers and --profile reject bad values with exit 2; --profile prints kernel and stage times', () => {
    const f = path.join(dir, 'p.yaml');
    fs.writeFileSync(
      f,
      'name: p\nbackend: cpu\ndataset: { name: synthetic, options: { n: 32, testN: 8, shape: [6, 6, 1], classes: 3 } }\n' +
        'stages: [{ stage: train, model: net, architecture: { name: mlp, options: { hidden: [8] } }, epochs: 1, batchSize: 8 }]\n',
    );
    const runs = path.join(dir, 'runs');
    const w = certkd(['run', f, '--runs-dir', runs, '--workers', '0']);
    expect(w.status).toBe(2);
    expect(w.stderr).toContain("--workers: must be a positive integer or 'auto', got '0'");
    const p = certkd(['run', f, '--runs-dir', runs, '--profile', 'some']);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain("--profile: must be a positive integer, got 'some'");
    expect(fs.existsSync(runs)).toBe(false);
    const ok = certkd(['run', f, '--runs-dir', runs, '--profile', '2']);
    expect(ok.status).toBe(0);
    const out = ok.stdout + ok.stderr;
    expect(out).toMatch(/profile of net \(standard, batch 8, cpu\): [\d.]+ ms\/step wall \(profiled\), [\d.]+ ms\/step kernel time, 2 steps/);
    expect(out).toMatch(/^ {2}MatMul|^ {2}BatchMatMul/m);
    expect(out).toMatch(/time per stage:\n {2}0\. prepare-data +[\d.]+ s/);
  });

  it('unknown options and missing models exit 2', () => {
    expect(certkd(['plugins', '--frobnicate']).status).toBe(2);
    const r = certkd(['bounds', path.join(dir, 'missing'), '--input', 'x.json', '--eps', '0.1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('model not found');
  });

  itWithData(shared, 'bounds on a VNN-COMP network and property prints sound JSON', () => {
    const r = certkd([
      'bounds',
      path.join(shared, 'mnist-net_256x2.onnx'),
      '--vnnlib',
      path.join(shared, 'prop_0_0.03.vnnlib'),
      '--method',
      'crown',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.method).toBe('crown');
    expect(j.out_lower).toHaveLength(10);
    expect(j.spec_lower).toHaveLength(9);
    j.out_lower.forEach((l: number, i: number) => expect(l).toBeLessThanOrEqual(j.out_upper[i]));
    j.spec_lower.forEach((l: number, i: number) => expect(l).toBeLessThanOrEqual(j.spec_upper[i]));
    expect(j.time_s).toBeGreaterThan(0);
  });

  itWithData(shared, 'diagnose reports IBP looseness layer by layer and the feature distance to a teacher', () => {
    const onnx = path.join(shared, 'mnist-net_256x2.onnx');
    const r = certkd(['diagnose', onnx, '--dataset', 'mnist', '--eps', '0.02', '--n', '20', '--teacher', onnx, '--backend', 'wasm', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ n: 20, eps: 0.02, relu_units: 512, teacher_distance: 0 });
    expect(j.per_layer.map((l: { units: number }) => l.units)).toEqual([256, 256]);
    expect(j.feature_box_width).toBeGreaterThan(0);
    expect(j.unstable_fraction).toBeGreaterThan(0);
    expect(j.unstable_fraction).toBeLessThanOrEqual(1);
    const bad = certkd(['diagnose', onnx, '--dataset', 'mnist', '--eps', '-1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--eps: must be at least 0, got '-1'");
  });

  itWithData(shared, 'verify answers VNN-COMP words and rejects bad files with exit 2', () => {
    const onnx = path.join(shared, 'mnist-net_256x2.onnx');
    const ok = certkd(['verify', onnx, path.join(shared, 'prop_1_0.05.vnnlib'), '--timeout', '20', '--backend', 'wasm', '--out', path.join(dir, 'res.txt')]);
    expect(ok.status).toBe(0);
    const res = fs.readFileSync(path.join(dir, 'res.txt'), 'utf8');
    // alpha-beta-CROWN and the other tools of VNN-COMP 2021 found prop_1_0.05 violated.
    expect(res.split('\n')[0]).toBe('sat');
    expect(res).toMatch(/\(X_783 [-0-9.e]+\)/);
    const bad = path.join(dir, 'bad.vnnlib');
    fs.writeFileSync(bad, '(declare-const X_0 Real)\n(assert (<= X_0 0.5)\n');
    const r1 = certkd(['verify', onnx, bad]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/bad\.vnnlib:\d+:\d+/);
    const notOnnx = path.join(dir, 'x.onnx');
    fs.writeFileSync(notOnnx, 'this is not a protobuf');
    const r2 = certkd(['verify', notOnnx, path.join(shared, 'prop_1_0.05.vnnlib')]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('ModelFormatError');
  });
});
