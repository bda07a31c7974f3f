// Regression tests for the verifier's hardening (issue #16): non-finite networks, always-true
// output constraints, time budgets that include parsing, and the bookkeeping of instance runs.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, SeededRng } from '@certkd/core';
import { confirmWitness, evalFlat, verifyProperty } from './verify';
import { checkProperty, robustnessDisjuncts } from './property';
import { verifyVnnlib } from './vnnlib';
import { doneKeys, instanceKey, readTaskRecords, runInstancesCsv, runVnnlibTask, summarizeTaskRecords } from './batch';
import { itWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

const TEST_DIR = sharedPath('vnncomp', '2021', 'test');
const NET = path.join(TEST_DIR, 'test_sat.onnx'); // 5 inputs, 5 outputs
const PROP = path.join(TEST_DIR, 'test_prop.vnnlib');
const itData = (name: string, fn: jest.ProvidesCallback, timeout?: number) => itWithData([NET, PROP], name, fn, timeout);

function smallNet(seed: number): Network {
  return Network.create(
    { inputShape: [2], layers: [{ kind: 'dense', units: 8, useBias: true }, { kind: 'relu' }, { kind: 'dense', units: 3, useBias: true }] },
    new SeededRng(seed),
  );
}

/** Overwrite one parameter of `net` with the constant `v`. */
function fill(net: Network, layer: number, name: string, v: number): void {
  const p = net.param(layer, name);
  tf.tidy(() => p.assign(tf.fill(p.shape, v)));
}

const box = { lower: Float32Array.of(0, 0), upper: Float32Array.of(1, 1) };

describe('verifier: non-finite networks', () => {
  it('confirmWitness refuses a point whose network output is not finite (a witness computed through NaN)', () => {
    const net = smallNet(1);
    fill(net, 2, 'kernel', NaN);
    const x = Float32Array.of(0.5, 0.5);
    expect(Array.from(evalFlat(net, x, 1)).every(Number.isNaN)).toBe(true);
    // a disjunct with no rows holds for every finite output, but NaN is no output at all
    expect(confirmWitness(net, x, box, [[]])).toBeNull();
    expect(confirmWitness(net, x, box, [[{ c: [0, 0, 0], d: 1 }]])).toBeNull();
    net.dispose();
  });

  it.each([
    ['an all-NaN hidden layer', (net: Network) => fill(net, 0, 'kernel', NaN)],
    ['an all-NaN output layer', (net: Network) => fill(net, 2, 'kernel', NaN)],
    ['an infinite bias', (net: Network) => fill(net, 2, 'bias', Infinity)],
    [
      'outputs that overflow to infinity',
      (net: Network) => {
        fill(net, 0, 'kernel', 1e30);
        fill(net, 0, 'bias', 1e30);
        fill(net, 2, 'kernel', 1e30);
      },
    ],
  ])('a network with %s gets an error verdict, never sat or unsat', (_, breakIt) => {
    for (const disjuncts of [robustnessDisjuncts(0, 3), [[]], [[{ c: [1, 0, 0], d: 1e9 }]]]) {
      const net = smallNet(2);
      breakIt(net);
      const v = verifyProperty(net, { boxes: [box], disjuncts }, { timeoutS: 10, methods: ['ibp', 'crown'] });
      expect(v.kind).toBe('error');
      expect((v as { message: string }).message).toMatch(/not finite|non-finite/);
      net.dispose();
    }
  });
});

describe('verifier: always-true output constraints', () => {
  it('a disjunct with no rows is reached by every input: falsified at the box centre with a checked witness', () => {
    const net = smallNet(3);
    const v = verifyProperty(net, { boxes: [box], disjuncts: [[{ c: [1, 0, 0], d: -1e9 }], []] }, { timeoutS: 10 });
    expect(v.kind).toBe('falsified');
    if (v.kind === 'falsified') {
      expect(v.disjunct).toBe(1);
      expect(Array.from(v.witness)).toEqual([0.5, 0.5]);
      expect(Array.from(v.output)).toEqual(Array.from(evalFlat(net, v.witness, 1)));
    }
    net.dispose();
  });

  it('checkProperty refuses NaN or infinite rows and bounds', () => {
    const rows = (c: number[], d: number) => ({ boxes: [box], disjuncts: [[{ c, d }]] });
    expect(() => checkProperty(rows([1, NaN, 0], 0), 2, 3)).toThrow(/not finite/);
    expect(() => checkProperty(rows([1, 0, 0], NaN), 2, 3)).toThrow(/not finite/);
    expect(() => checkProperty(rows([1, 0, 0], Infinity), 2, 3)).toThrow(ConfigError);
    expect(() => checkProperty({ boxes: [{ lower: Float32Array.of(-Infinity, 0), upper: Float32Array.of(1, 1) }], disjuncts: [[]] }, 2, 3)).toThrow(
      /not finite/,
    );
    expect(() => checkProperty({ boxes: [box], disjuncts: [[]] }, 2, 3)).not.toThrow();
  });
});

describe('verifyVnnlib: the time budget covers parsing', () => {
  itData(
    'a property that takes longer to read than the budget ends as timeout, close to the budget',
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-budget-'));
      try {
        // about 6 MB of input bounds: several seconds to read, whatever the verifier then does
        const lines = [0, 1, 2, 3, 4].flatMap((i) => [`(declare-const X_${i} Real)`, `(declare-const Y_${i} Real)`]);
        for (let k = 0; k < 160_000; k++) lines.push(`(assert (>= X_${k % 5} -${1 + (k % 1000) / 1e4}))`, `(assert (<= X_${k % 5} ${1 + (k % 997) / 1e4}))`);
        lines.push('(assert (<= Y_0 Y_1))');
        const prop = path.join(dir, 'big.vnnlib');
        fs.writeFileSync(prop, lines.join('\n'));
        const t0 = Date.now();
        const r = verifyVnnlib(NET, prop, { timeoutS: 0.5 });
        const took = (Date.now() - t0) / 1000;
        expect(r.result).toBe('timeout');
        expect(r.verdict.kind).toBe('timeout');
        expect(took).toBeLessThan(0.5 + 1);
        expect(r.verdict.time_s).toBeGreaterThanOrEqual(0.5);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60000,
  );
});

describe('instance runs: errors, keys and counts', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-inst-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  itData('an instance whose files are missing is recorded as error (not unknown) and run again once they appear', async () => {
    fs.writeFileSync(path.join(dir, 'instances.csv'), 'nets/net.onnx,props/prop.vnnlib,60\n');
    const out = path.join(dir, 'out.jsonl');
    const first = await runInstancesCsv(path.join(dir, 'instances.csv'), { out, timeoutS: 10 });
    expect(first.map((r) => r.result)).toEqual(['error']);
    expect(first[0].verdict.message).toMatch(/net\.onnx/);
    expect(doneKeys(out).size).toBe(0); // errors are not done
    fs.mkdirSync(path.join(dir, 'nets'));
    fs.mkdirSync(path.join(dir, 'props'));
    fs.copyFileSync(NET, path.join(dir, 'nets/net.onnx'));
    fs.copyFileSync(PROP, path.join(dir, 'props/prop.vnnlib'));
    const second = await runInstancesCsv(path.join(dir, 'instances.csv'), { out, timeoutS: 10 });
    expect(second).toHaveLength(1);
    expect(['sat', 'unsat']).toContain(second[0].result);
    // the later record wins in the summary
    const s = summarizeTaskRecords(readTaskRecords(out), new Set(second.map((r) => r.key)));
    expect(s).toMatchObject({ total: 1, now: 1, earlier: 0 });
    expect(s.counts.error).toBeUndefined();
  });

  it('runVnnlibTask records a bad input as error with its message, counted apart from unknown', () => {
    const r = runVnnlibTask({ key: 'k', onnx: path.join(dir, 'none.onnx'), vnnlib: path.join(dir, 'none.vnnlib'), timeoutS: 1 });
    expect(r.result).toBe('error');
    expect(r.verdict.kind).toBe('error');
  });

  itData('instances with the same file names in different folders are kept apart on resume', async () => {
    for (const sub of ['A', 'B']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.copyFileSync(NET, path.join(dir, sub, 'net.onnx'));
      fs.copyFileSync(PROP, path.join(dir, sub, 'prop.vnnlib'));
    }
    const csv = path.join(dir, 'instances.csv');
    fs.writeFileSync(csv, 'A/net.onnx,A/prop.vnnlib,60\n');
    const out = path.join(dir, 'out.jsonl');
    const first = await runInstancesCsv(csv, { out, timeoutS: 10 });
    fs.writeFileSync(csv, 'A/net.onnx,A/prop.vnnlib,60\nB/net.onnx,B/prop.vnnlib,60\n');
    const second = await runInstancesCsv(csv, { out, timeoutS: 10 });
    expect(first.map((r) => r.key)).toEqual(['A/net.onnx,A/prop.vnnlib']);
    expect(second.map((r) => r.key)).toEqual(['B/net.onnx,B/prop.vnnlib']);
    expect(instanceKey('./A//net.onnx', 'A/prop.vnnlib')).toBe('A/net.onnx,A/prop.vnnlib');
    const s = summarizeTaskRecords(readTaskRecords(out), new Set(second.map((r) => r.key)));
    expect(s).toMatchObject({ total: 2, now: 1, earlier: 1 });
  });

  it('summaries count the latest record per key over the whole file', () => {
    const out = path.join(dir, 'o.jsonl');
    const rec = (key: string, result: string) => JSON.stringify({ key, result, verdict: { kind: result === 'error' ? 'error' : 'x' } });
    fs.writeFileSync(out, [rec('a', 'error'), rec('b', 'unsat'), rec('a', 'sat'), rec('c', 'error'), rec('d', 'unknown'), '{"key": "tor'].join('\n'));
    const s = summarizeTaskRecords(readTaskRecords(out), new Set(['a', 'c']));
    expect(s).toEqual({ total: 4, now: 2, earlier: 2, counts: { sat: 1, unsat: 1, error: 1, unknown: 1 } });
  });
});
