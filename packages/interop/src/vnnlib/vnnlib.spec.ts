import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ConfigError, PropertyFormatError } from '@certkd/core';
import { loadVnnlib, outputConstraintMatrices, parseVnnlib } from './vnnlib-property';
import { fmt, writeRobustnessVnnlib } from './vnnlib-writer';
import { readInstancesCsv, writeInstancesCsv } from './instances-csv';
import { randomInput } from '../test-util/nets';
import { describeWithData, sharedPath } from '../../../../tools/jest/shared-data.cjs';

const VNNCOMP = sharedPath('vnncomp');
const describeData = (name: string, fn: () => void) => describeWithData(VNNCOMP, name, fn);

const decl = (nx: number, ny: number) =>
  [...Array.from({ length: nx }, (_, i) => `(declare-const X_${i} Real)`), ...Array.from({ length: ny }, (_, j) => `(declare-const Y_${j} Real)`)].join('\n');

function errorOf(f: () => unknown): PropertyFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof PropertyFormatError) return e;
    throw e;
  }
  throw new Error('expected a PropertyFormatError');
}

describe('parseVnnlib', () => {
  it('reads boxes and a disjunction of linear output conjunctions', () => {
    const text = `; comment
${decl(2, 3)}
(assert (<= X_0 0.5)) (assert (>= X_0 -0.25))
(assert (and (>= X_1 0) (<= X_1 1e-1)))
(assert (or
  (and (<= Y_0 Y_1) (>= Y_2 0.2))
  (and (<= (+ Y_0 (* 2 Y_1)) (- 3 Y_2)))
  (and (>= (* 0.5 (- Y_1 Y_0)) (/ Y_2 4)))
))`;
    const p = parseVnnlib(text, 'p.vnnlib');
    expect([p.inputCount, p.outputCount]).toEqual([2, 3]);
    expect(p.boxes).toHaveLength(1);
    expect(Array.from(p.boxes[0].lower)).toEqual([-0.25, 0]);
    expect(p.boxes[0].upper[0]).toBe(0.5);
    // rounded outwards to float32: fround(0.1) is the float32 just above 0.1
    expect(Math.fround(0.1)).toBeGreaterThan(0.1);
    expect(p.boxes[0].upper[1]).toBe(Math.fround(0.1));
    expect(p.outputConstraints).toHaveLength(3);
    expect(p.outputConstraints[0]).toEqual([
      { c: [1, -1, 0], d: 0 },
      { c: [0, 0, -1], d: -0.2 },
    ]);
    expect(p.outputConstraints[1]).toEqual([{ c: [1, 2, 1], d: 3 }]);
    // 0.5 (Y1 - Y0) >= Y2 / 4  <=>  Y2/4 - 0.5 Y1 + 0.5 Y0 <= 0
    expect(p.outputConstraints[2]).toEqual([{ c: [0.5, -0.5, 0.25], d: 0 }]);
    const m = outputConstraintMatrices(p);
    expect(m[0]).toEqual({
      C: [
        [1, -1, 0],
        [0, 0, -1],
      ],
      d: [0, -0.2],
    });
  });

  it('rounds box bounds outwards to float32', () => {
    const p = parseVnnlib(`${decl(1, 1)}\n(assert (>= X_0 0.1))\n(assert (<= X_0 0.7))\n(assert (<= Y_0 0))`);
    expect(p.boxes[0].lower[0]).toBeLessThan(0.1);
    expect(p.boxes[0].lower[0]).toBeGreaterThan(0.1 - 1e-8);
    expect(Math.fround(0.7)).toBeLessThan(0.7);
    expect(p.boxes[0].upper[0]).toBeGreaterThan(0.7);
    expect(p.boxes[0].upper[0]).toBeLessThan(0.7 + 1e-7);
  });

  it('rounds outwards from the decimal, not from its float64 rounding; refuses numbers rounded more than once', () => {
    // 0.50000000000000000001 and 0.49999999999999999999 both parse to the float64 0.5, a float32:
    // the box must still contain [0.49999999999999999999, 0.50000000000000000001]
    const box = (lo: string, hi: string) => parseVnnlib(`${decl(1, 1)}\n(assert (>= X_0 ${lo}))\n(assert (<= X_0 ${hi}))\n(assert (<= Y_0 0))`).boxes[0];
    const near = box('0.49999999999999999999', '0.50000000000000000001');
    expect(near.lower[0]).toBeLessThan(0.5);
    expect(near.upper[0]).toBeGreaterThan(0.5);
    expect(Math.fround(near.lower[0])).toBe(near.lower[0]);
    expect(0.5 - near.lower[0]).toBeLessThanOrEqual(2 ** -25);
    // exact decimals, and exact arithmetic on them, keep their float32 values
    const exact = box('0.5', '(* 2 0.375)');
    expect([exact.lower[0], exact.upper[0]]).toEqual([0.5, 0.75]);
    expect(box('(- 1 0.25)', '1').lower[0]).toBe(0.75);
    expect(box('0', '(/ 3 4)').upper[0]).toBe(0.75);
    // one rounding on exact numbers (1/3) is the real bound to nearest: it stays as it was
    const third = box('(/ 1 3)', '1');
    expect(third.lower[0]).toBe(Math.fround(1 / 3) > 1 / 3 ? Math.fround(1 / 3) - 2 ** -25 : Math.fround(1 / 3));
    // a bound that went through two roundings (0.1 + 0.2) has no known error: refused, naming the file position
    const e = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (>= X_0 (+ 0.1 0.2)))\n(assert (<= X_0 1))\n(assert (<= Y_0 0))`, 'p.vnnlib'));
    expect(e.message).toMatch(/p\.vnnlib:\d+:\d+/);
    expect(e.message).toMatch(/more than one float64 rounding/);
    // and so is an output constant computed that way; one decimal (0.3) is fine
    expect(() => parseVnnlib(`${decl(1, 2)}\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (<= Y_0 (* 0.1 3)))`)).toThrow(/more than one float64 rounding/);
    expect(parseVnnlib(`${decl(1, 2)}\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (<= Y_0 0.3))`).outputConstraints[0][0].d).toBe(0.3);
  });

  it('reads a disjunction of input boxes with common output constraints', () => {
    const text = `${decl(1, 2)}
(assert (or (and (>= X_0 0) (<= X_0 1)) (and (>= X_0 2) (<= X_0 3))))
(assert (>= Y_0 Y_1))`;
    const p = parseVnnlib(text);
    expect(p.boxes.map((b) => [b.lower[0], b.upper[0]])).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(p.outputConstraints).toEqual([[{ c: [-1, 1], d: 0 }]]);
  });

  it('reports errors with line and column', () => {
    const e1 = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= X_0 Z_3))`, 'a.vnnlib'));
    expect([e1.line, e1.column]).toEqual([3, 17]);
    expect(e1.message).toMatch(/a\.vnnlib:3:17: .*Z_3/);
    const e2 = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= X_0 1)`));
    expect(e2.line).toBe(3);
    expect(e2.message).toMatch(/unclosed/);
    const e3 = errorOf(() => parseVnnlib(`${decl(2, 1)}\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (>= X_1 0))`));
    expect(e3.message).toMatch(/X_1 has no upper bound/);
    const e4 = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n  (assert (<= X_0 Y_0))`));
    expect([e4.line, e4.column, e4.message.includes('mixes')]).toEqual([5, 11, true]);
    const e5 = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (not (<= X_0 1)))`));
    expect(e5.message).toMatch(/'not'/);
    const e6 = errorOf(() => parseVnnlib(`(declare-const X_0 Real)\n(declare-const X_2 Real)\n(declare-const Y_0 Real)`));
    expect(e6.message).toMatch(/X_1 is not declared/);
    const e7 = errorOf(() => parseVnnlib(`${decl(1, 2)}\n(assert (or (and (>= X_0 0) (<= X_0 1) (>= Y_0 Y_1)) (and (>= X_0 2) (<= X_0 3) (>= Y_1 Y_0))))`));
    expect(e7.message).toMatch(/different output constraints/);
    expect(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= (* X_0 Y_0) 1))`)).toThrow(/not linear/);
  });
});

describe('writeRobustnessVnnlib', () => {
  it('parses back to the same clipped box and the VNN-COMP unsafe region', () => {
    const x = randomInput([20], 4);
    x[0] = 0;
    x[1] = 1;
    const eps = 0.03;
    const text = writeRobustnessVnnlib(x, 3, eps, 10);
    const p = parseVnnlib(text);
    expect([p.inputCount, p.outputCount, p.boxes.length]).toEqual([20, 10, 1]);
    const { lower, upper } = p.boxes[0];
    for (let i = 0; i < 20; i++) {
      const l = Math.max(0, x[i] - eps);
      const u = Math.min(1, x[i] + eps);
      expect(lower[i]).toBeLessThanOrEqual(l);
      expect(upper[i]).toBeGreaterThanOrEqual(u);
      expect(l - lower[i]).toBeLessThan(1e-7);
      expect(upper[i] - u).toBeLessThan(1e-7);
    }
    expect(lower[0]).toBe(0);
    expect(upper[1]).toBe(1);
    expect(text.split('\n').filter((l) => l.startsWith('(assert (<= X_')).length).toBe(20);
    expect(p.outputConstraints).toHaveLength(9);
    p.outputConstraints.forEach((conj, k) => {
      const j = k < 3 ? k : k + 1;
      const c = new Array(10).fill(0);
      c[3] = 1;
      c[j] = -1;
      expect(conj).toEqual([{ c, d: 0 }]);
    });
    expect(() => writeRobustnessVnnlib(x, 10, eps, 10)).toThrow(ConfigError);
  });

  it('writes numbers as plain decimals that read back exactly', () => {
    for (const v of [0, 1, -0.5, 1e-7, 1.401298464324817e-45, 0.1, 2 ** 77, Math.fround(0.3)]) {
      const s = fmt(v);
      expect(s).not.toMatch(/e/i);
      expect(Number(s)).toBe(v);
    }
  });

  it('loadVnnlib reads gzip files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-vnnlib-'));
    const text = writeRobustnessVnnlib(Float32Array.of(0.2, 0.4, 0.6), 1, 0.1, 3);
    fs.writeFileSync(path.join(dir, 'p.vnnlib.gz'), zlib.gzipSync(text));
    fs.writeFileSync(path.join(dir, 'p.vnnlib'), text);
    expect(loadVnnlib(path.join(dir, 'p.vnnlib.gz'))).toEqual(loadVnnlib(path.join(dir, 'p.vnnlib')));
    fs.writeFileSync(path.join(dir, 'bad.vnnlib.gz'), text);
    expect(() => loadVnnlib(path.join(dir, 'bad.vnnlib.gz'))).toThrow(PropertyFormatError);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('instances csv', () => {
  it('writes and reads back rows, resolving paths against the csv folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-inst-'));
    const csv = writeInstancesCsv([
      { onnx: 'nets/a.onnx', vnnlib: 'p0.vnnlib', timeout: 60 },
      { onnx: 'nets/a.onnx', vnnlib: 'p1.vnnlib', timeout: 2.5 },
    ]);
    expect(csv).toBe('nets/a.onnx,p0.vnnlib,60\nnets/a.onnx,p1.vnnlib,2.5\n');
    fs.writeFileSync(path.join(dir, 'instances.csv'), csv);
    const rows = readInstancesCsv(path.join(dir, 'instances.csv'));
    expect(rows).toEqual([
      { onnx: path.join(dir, 'nets/a.onnx'), vnnlib: path.join(dir, 'p0.vnnlib'), timeout: 60, listed: { onnx: 'nets/a.onnx', vnnlib: 'p0.vnnlib' } },
      { onnx: path.join(dir, 'nets/a.onnx'), vnnlib: path.join(dir, 'p1.vnnlib'), timeout: 2.5, listed: { onnx: 'nets/a.onnx', vnnlib: 'p1.vnnlib' } },
    ]);
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'a.onnx,b.vnnlib\n');
    expect(() => readInstancesCsv(path.join(dir, 'bad.csv'))).toThrow(/line 1/);
    expect(() => writeInstancesCsv([{ onnx: 'a,b', vnnlib: 'c', timeout: 1 }])).toThrow(ConfigError);
    fs.rmSync(dir, { recursive: true });
  });
});

describeData('VNN-COMP 2021 properties', () => {
  const list = (dir: string, re: RegExp) =>
    fs
      .readdirSync(path.join(VNNCOMP, dir))
      .filter((f) => re.test(f))
      .map((f) => path.join(VNNCOMP, dir, f));

  it('parses every mnistfc and eran mnist property: 784 inputs, 10 outputs, one box in [0,1], 9 disjuncts', () => {
    const files = [...list('2021/mnistfc', /\.vnnlib$/), ...list('2021/eran/specs/mnist', /\.vnnlib$/)];
    expect(files).toHaveLength(30 + 36);
    for (const f of files) {
      const p = loadVnnlib(f);
      expect([p.inputCount, p.outputCount, p.boxes.length, p.outputConstraints.length]).toEqual([784, 10, 1, 9]);
      expect(p.boxes[0].lower.every((v, i) => v >= 0 && v <= p.boxes[0].upper[i] && p.boxes[0].upper[i] <= 1)).toBe(true);
      // every disjunct says "some other class scores at least the label's": one row with c[label] = 1
      const label = p.outputConstraints[0][0].c.indexOf(1);
      for (const conj of p.outputConstraints) {
        expect(conj).toHaveLength(1);
        expect(conj[0].c[label]).toBe(1);
        expect(conj[0].d).toBe(0);
      }
      const stated = /label: (\d+)/.exec(fs.readFileSync(f, 'utf8').slice(0, 200));
      if (stated) expect(label).toBe(Number(stated[1]));
    }
  });

  it('parses gzipped oval21 and marabou-cifar10 properties', () => {
    for (const f of list('2021/oval21/vnnlib', /\.vnnlib\.gz$/).slice(0, 4)) {
      const p = loadVnnlib(f);
      expect([p.inputCount, p.outputCount, p.boxes.length, p.outputConstraints.length]).toEqual([3072, 10, 1, 9]);
    }
    for (const f of list('2021/marabou-cifar10/specs', /\.vnnlib\.gz$/).slice(0, 4)) {
      const p = loadVnnlib(f);
      const target = Number(/target(\d+)/.exec(f)![1]);
      expect([p.inputCount, p.outputCount, p.boxes.length, p.outputConstraints.length]).toEqual([3072, 10, 1, 1]);
      // targeted: Y_target >= Y_j for all j != target, one conjunction of 9 rows
      expect(p.outputConstraints[0]).toHaveLength(9);
      expect(p.outputConstraints[0].every((r) => r.c[target] === -1 && r.d === 0)).toBe(true);
    }
  });

  it('reads the instances csv files, with oval21 resolved to its gzipped properties', () => {
    const mn = readInstancesCsv(path.join(VNNCOMP, '2021/mnistfc/mnistfc_instances.csv'));
    expect(mn.length).toBeGreaterThan(0);
    expect(mn.every((r) => fs.existsSync(r.onnx) && fs.existsSync(r.vnnlib) && r.timeout > 0)).toBe(true);
    const ov = readInstancesCsv(path.join(VNNCOMP, '2021/oval21/oval21_instances.csv'));
    expect(ov.every((r) => r.vnnlib.endsWith('.vnnlib.gz') && fs.existsSync(r.vnnlib))).toBe(true);
    const t = readInstancesCsv(path.join(VNNCOMP, '2021/test/test_instances.csv'));
    const prop = loadVnnlib(t.find((r) => r.vnnlib.endsWith('test_prop.vnnlib'))!.vnnlib);
    expect([prop.inputCount, prop.outputCount, prop.outputConstraints.length, prop.outputConstraints[0].length]).toEqual([5, 5, 1, 4]);
  });
});
