// Regression tests for the VNN-LIB reader's hardening (issue #16): inputs that once looped
// forever, overflowed the stack or took quadratic time run in a child process with a hard time
// and memory limit (a synchronous endless loop cannot be stopped by Jest's own timeout).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PropertyFormatError, SeededRng } from '@certkd/core';
import { parseVnnlib } from './vnnlib-property';
import { MAX_NESTING } from './sexpr';
import { UNICODE_SPACES } from './__fixtures__/unicode-spaces';

const CHILD = path.join(__dirname, '__fixtures__', 'parse-child.cjs');

interface ChildResult {
  name: string;
  ok: boolean;
  ms: number;
  boxes?: number;
  disjuncts?: number;
  rows?: number[];
  error?: { name: string; message: string; exitCode: number };
}

/** Parse each case in a child process limited to `limitMs` and 512 MB; one result per finished case. */
function parseInChild(cases: { name: string; text?: string; file?: string }[], limitMs: number): { results: ChildResult[]; timedOut: boolean; stderr: string } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', CHILD], {
    input: JSON.stringify(cases),
    encoding: 'utf8',
    timeout: limitMs,
    maxBuffer: 64 << 20,
  });
  const results = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChildResult);
  return { results, timedOut: r.error !== undefined || r.signal !== null, stderr: r.stderr };
}

const decl = (nx: number, ny: number) =>
  [...Array.from({ length: nx }, (_, i) => `(declare-const X_${i} Real)`), ...Array.from({ length: ny }, (_, j) => `(declare-const Y_${j} Real)`)].join('\n');
const box1 = '(assert (>= X_0 0))\n(assert (<= X_0 1))';

function errorOf(f: () => unknown): PropertyFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof PropertyFormatError) return e;
    throw e;
  }
  throw new Error('expected a PropertyFormatError');
}

/** A clean refusal: PropertyFormatError, exit code 2, one line naming file:line:column. */
function expectRefusal(r: ChildResult | undefined, file: string) {
  expect(r).toBeDefined();
  expect(r!.ok).toBe(false);
  expect(r!.error!.name).toBe('PropertyFormatError');
  expect(r!.error!.exitCode).toBe(2);
  expect(r!.error!.message).not.toMatch(/[\r\n\u2028\u2029\u0085]/);
  expect(r!.error!.message.startsWith(`${file}:`)).toBe(true);
}

const WHITESPACE = [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, ...UNICODE_SPACES];

describe('VNN-LIB reader hardening', () => {
  it('treats form feed, vertical tab, NBSP and every other Unicode whitespace as whitespace (once an endless loop)', () => {
    const base = `${decl(1, 2)}\n${box1}\n(assert (or (<= Y_0 Y_1) (>= Y_1 0.5)))`;
    const cases = WHITESPACE.map((code) => ({
      name: `ws-${code.toString(16)}.vnnlib`,
      text: String.fromCharCode(code) + base.replace(/ /g, String.fromCharCode(code)),
    }));
    const { results, timedOut } = parseInChild(cases, 20000);
    expect(timedOut).toBe(false);
    expect(results.map((r) => [r.name, r.ok, r.boxes, r.disjuncts])).toEqual(cases.map((c) => [c.name, true, 1, 2]));
  });

  it('refuses other control characters and non-ASCII symbols with file:line:column', () => {
    for (const ch of ['\u0000', '\u0001', '\u001b', '\u007f', '\u009b', '\u00e9', '\ufffd']) {
      const e = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= X_0${ch} 1))`, 'c.vnnlib'));
      expect(e.message).toMatch(/^c\.vnnlib:3:16: unexpected (control|non-ASCII) character U\+[0-9A-F]{4}/);
      expect(e.exitCode).toBe(2);
    }
  });

  it('4 KB of random bytes ends fast with a one-line PropertyFormatError (once an out-of-memory abort)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-vnnlib-rand-'));
    try {
      const rng = new SeededRng(7);
      const cases = Array.from({ length: 30 }, (_, k) => {
        const file = path.join(dir, `r${k}.vnnlib`);
        fs.writeFileSync(file, Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rng.next() * 256))));
        return { name: file, file };
      });
      const { results, timedOut } = parseInChild(cases, 20000);
      expect(timedOut).toBe(false);
      expect(results).toHaveLength(cases.length);
      results.forEach((r) => expectRefusal(r, r.name));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deep nesting is refused with a clear error instead of overflowing the stack; nesting up to the limit parses', () => {
    const deep = (n: number, op: string) => `${decl(1, 1)}\n${box1}\n(assert ${`(${op} `.repeat(n)}(<= Y_0 0)${')'.repeat(n)})`;
    const deepTerm = (n: number) => `${decl(1, 1)}\n${box1}\n(assert (<= ${'(+ 1 '.repeat(n)}Y_0${')'.repeat(n)} 0))`;
    const { results, timedOut } = parseInChild(
      [
        { name: 'and.vnnlib', text: deep(100000, 'and') },
        { name: 'or.vnnlib', text: deep(100000, 'or') },
        { name: 'term.vnnlib', text: deepTerm(100000) },
        { name: 'parens.vnnlib', text: '('.repeat(1 << 20) },
        { name: 'and-limit.vnnlib', text: deep(MAX_NESTING - 2, 'and') },
        { name: 'term-limit.vnnlib', text: deepTerm(MAX_NESTING - 3) },
      ],
      20000,
    );
    expect(timedOut).toBe(false);
    for (const r of results.slice(0, 4)) {
      expectRefusal(r, r.name);
      expect(r.error!.message).toMatch(`nested deeper than ${MAX_NESTING} levels`);
    }
    expect(results.slice(4).map((r) => [r.name, r.ok, r.disjuncts])).toEqual([
      ['and-limit.vnnlib', true, 1],
      ['term-limit.vnnlib', true, 1],
    ]);
  });

  it('assertions after an `or` parse in about linear time: a 2 MB property well under the bound (once over 120 s)', () => {
    const lines = [decl(4, 2), '(assert (or (<= Y_0 0) (<= Y_1 0)))'];
    let size = lines.join('\n').length;
    for (let k = 0; size < 2_000_000; k++) {
      const l = `(assert (<= X_${k % 4} ${1 + (k % 97) / 1000}))\n(assert (>= X_${k % 4} ${-(k % 89) / 1000}))`;
      lines.push(l);
      size += l.length + 1;
    }
    const { results, timedOut } = parseInChild([{ name: 'big.vnnlib', text: lines.join('\n') }], 30000);
    expect(timedOut).toBe(false);
    expect(results[0]).toMatchObject({ ok: true, boxes: 1, disjuncts: 2 });
    // linear code takes about a second here, the quadratic one minutes; the bound allows a busy machine
    expect(results[0].ms).toBeLessThan(10000);
  });

  it('a 1000-disjunct disjunction parses fast; a product beyond MAX_DISJUNCTS is refused fast', () => {
    const disj = (n: number, v: string) => `(assert (or ${Array.from({ length: n }, (_, i) => `(<= ${v} ${i})`).join(' ')}))`;
    const { results, timedOut } = parseInChild(
      [
        { name: 'd1000.vnnlib', text: `${decl(1, 2)}\n${disj(1000, 'Y_0')}\n${box1}\n(assert (<= Y_1 3))` },
        {
          name: 'boxes.vnnlib',
          text: `${decl(1, 1)}\n(assert (or ${Array.from({ length: 1000 }, (_, i) => `(and (>= X_0 ${i}) (<= X_0 ${i + 1}))`).join(' ')}))\n(assert (<= Y_0 0))`,
        },
        { name: 'product.vnnlib', text: `${decl(1, 2)}\n${box1}\n${disj(1000, 'Y_0')}\n${disj(1000, 'Y_1')}` },
      ],
      20000,
    );
    expect(timedOut).toBe(false);
    expect(results[0]).toMatchObject({ ok: true, boxes: 1, disjuncts: 1000 });
    expect(results[0].rows!.every((n) => n === 2)).toBe(true);
    expect(results[1]).toMatchObject({ ok: true, boxes: 1000, disjuncts: 1 });
    expectRefusal(results[2], 'product.vnnlib');
    expect(results[2].error!.message).toMatch(/more than 100000 disjuncts/);
    results.forEach((r) => expect(r.ms).toBeLessThan(5000));
  });

  it('refuses NaN, infinities and numbers that overflow in output rows, constants and input bounds', () => {
    const cases: [string, RegExp][] = [
      ['(assert (<= Y_0 NaN))', /'NaN' is not a finite number/],
      ['(assert (<= Y_0 -inf))', /'-inf' is not a finite number/],
      ['(assert (<= Y_0 1e999))', /number '1e999' is out of range/],
      ['(assert (<= (* 1e308 10 Y_0) 0))', /overflows to a non-finite value/],
      ['(assert (<= (- (* 1e308 10) (* 1e308 10)) Y_0))', /overflows to a non-finite value/],
      ['(assert (<= (/ Y_0 1e-320) 0))', /overflows to a non-finite value/],
    ];
    for (const [a, re] of cases) {
      const e = errorOf(() => parseVnnlib(`${decl(1, 1)}\n${box1}\n${a}`, 'n.vnnlib'));
      expect(e.message).toMatch(/^n\.vnnlib:5:\d+: /);
      expect(e.message).toMatch(re);
      expect(e.exitCode).toBe(2);
    }
    const f32 = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (>= X_0 0))\n(assert (<= X_0 1e39))\n(assert (<= Y_0 0))`, 'f.vnnlib'));
    expect(f32.message).toMatch(/^f\.vnnlib:4:9: the upper bound 1e\+39 of X_0 is outside the float32 range/);
  });

  it('an empty input box is refused naming file:line:column and the input', () => {
    const e = errorOf(() =>
      parseVnnlib(
        `${decl(2, 1)}\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (>= X_1 0.5))\n(assert (<= X_1 0.25))\n(assert (<= Y_0 0))`,
        'empty.vnnlib',
      ),
    );
    expect(e.message).toBe('empty.vnnlib:7:9: the input box is empty: X_1 has lower bound 0.5 above upper bound 0.25');
    // also when only one box of a disjunction is empty
    const e2 = errorOf(() =>
      parseVnnlib(`${decl(1, 1)}\n(assert (or (and (>= X_0 0) (<= X_0 1)) (and (>= X_0 3) (<= X_0 2))))\n(assert (<= Y_0 0))`, 'e2.vnnlib'),
    );
    expect(e2.message).toMatch(/^e2\.vnnlib:3:\d+: the input box is empty: X_0/);
  });

  it('an always-true output constraint is a disjunct with no rows (every input is unsafe); a false one is refused', () => {
    for (const out of ['(assert (<= Y_0 Y_0))', '(assert (>= (- Y_0 Y_0) 0))', '', '(assert true)']) {
      const p = parseVnnlib(`${decl(1, 1)}\n${box1}\n${out}`, 't.vnnlib');
      expect(p.outputConstraints).toEqual([[]]);
      expect(Array.from(p.boxes[0].lower)).toEqual([0]);
    }
    // a disjunct that is always true next to a normal one
    expect(parseVnnlib(`${decl(1, 1)}\n${box1}\n(assert (or (<= Y_0 Y_0) (<= Y_0 1)))`).outputConstraints).toEqual([[], [{ c: [1], d: 1 }]]);
    for (const out of ['(assert (<= 1 0))', '(assert false)', '(assert (or (<= 1 0) (> -1 0)))']) {
      expect(() => parseVnnlib(`${decl(1, 1)}\n${box1}\n${out}`, 'f.vnnlib')).toThrow(/^f\.vnnlib:\d+:\d+: the unsafe region is empty/);
    }
  });

  it('interrupt() is called while parsing, and an error thrown from it ends the parse', () => {
    class Stop extends Error {}
    const text = `${decl(1, 1)}\n${box1}\n` + '(assert (<= Y_0 1))\n'.repeat(20000);
    let calls = 0;
    expect(parseVnnlib(text, 'i.vnnlib', { interrupt: () => void calls++ }).outputConstraints[0]).toHaveLength(20000);
    expect(calls).toBeGreaterThan(5);
    expect(() =>
      parseVnnlib(text, 'i.vnnlib', {
        interrupt: () => {
          throw new Stop('stop');
        },
      }),
    ).toThrow(Stop);
  });

  it('positions in messages stay one line, long or odd symbols are shortened and escaped', () => {
    const e = errorOf(() => parseVnnlib(`${decl(1, 1)}\n(assert (<= |a\u2028b${'x'.repeat(100)}| 1))`, 'q.vnnlib'));
    expect(e.message).toMatch(/^q\.vnnlib:3:13: unknown symbol 'a\\u2028bx+\.\.\.'/);
    expect(e.message.length).toBeLessThan(150);
  });
});
