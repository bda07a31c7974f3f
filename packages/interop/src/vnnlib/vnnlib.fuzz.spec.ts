// Fuzzing the VNN-LIB reader (issue #16): thousands of generated and mutated inputs from a
// seeded PRNG. Each must end within a time limit (enforced through the reader's interrupt
// hook) with either a well-formed property or a PropertyFormatError: exit code 2, one line,
// naming the file. Runs in CI; set CERTKD_FUZZ_SEED to explore other seeds.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { CertkdError, PropertyFormatError, SeededRng } from '@certkd/core';
import { parseVnnlib, VnnlibProperty } from './vnnlib-property';
import { requireData, sharedPath } from '../../../../tools/jest/shared-data.cjs';
import { UNICODE_SPACES } from './__fixtures__/unicode-spaces';

const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 20240516);
const LIMIT_MS = 3000;
const VNNCOMP = sharedPath('vnncomp');

/** Every ASCII control character and the common Unicode whitespace. */
const ODD_CHARS = [...Array.from({ length: 0x20 }, (_, i) => i), 0x7f, ...UNICODE_SPACES].map((c) => String.fromCharCode(c));

const TOKENS = [
  '(',
  ')',
  '(',
  ')',
  ' ',
  '\n',
  'and',
  'or',
  'assert',
  'declare-const',
  'X_0',
  'X_1',
  'Y_0',
  'Y_1',
  'Real',
  '<=',
  '>=',
  '<',
  '=',
  '+',
  '-',
  '*',
  '/',
  '0',
  '1',
  '-0.5',
  '1e999',
  '1e-320',
  'NaN',
  'inf',
  'true',
  'false',
  ';',
  '|',
  'X_01',
  'Z',
];

const SMALL = `; a small valid property
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
(declare-const Y_1 Real)
(declare-const Y_2 Real)
(assert (>= X_0 -0.5))
(assert (<= X_0 0.5))
(assert (and (>= X_1 0) (<= X_1 1)))
(assert (or (and (<= Y_0 Y_1) (>= Y_2 0.25)) (<= (+ Y_0 (* 2 Y_1)) (- 3 Y_2))))
`;

interface Outcome {
  kind: 'property' | 'refused';
  ms: number;
}

/** Parse one input under the time limit and check the outcome's invariants. */
function check(text: string, file: string): Outcome {
  const t0 = Date.now();
  const interrupt = () => {
    if (Date.now() - t0 > LIMIT_MS) throw new Error(`${file}: still parsing after ${LIMIT_MS} ms`);
  };
  let p: VnnlibProperty;
  try {
    p = parseVnnlib(text, file, { interrupt });
  } catch (e) {
    if (!(e instanceof PropertyFormatError))
      throw new Error(`${file}: expected a PropertyFormatError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(e).toBeInstanceOf(CertkdError);
    expect(e.exitCode).toBe(2);
    if (/[\r\n\u2028\u2029\u0085]/.test(e.message) || !e.message.startsWith(`${file}:`)) throw new Error(`bad message: ${JSON.stringify(e.message)}`);
    return { kind: 'refused', ms: Date.now() - t0 };
  }
  // a parsed property is well formed: non-empty finite float32 boxes and finite rows of the right width
  if (!(p.inputCount > 0 && p.outputCount > 0 && p.boxes.length > 0 && p.outputConstraints.length > 0)) throw new Error(`${file}: degenerate property`);
  for (const b of p.boxes) {
    for (let i = 0; i < p.inputCount; i++) {
      if (!(Number.isFinite(b.lower[i]) && Number.isFinite(b.upper[i]) && b.lower[i] <= b.upper[i])) throw new Error(`${file}: bad box at X_${i}`);
    }
  }
  for (const conj of p.outputConstraints) {
    for (const r of conj) if (r.c.length !== p.outputCount || !r.c.every(Number.isFinite) || !Number.isFinite(r.d)) throw new Error(`${file}: bad row`);
  }
  return { kind: 'property', ms: Date.now() - t0 };
}

const pick = <T>(rng: SeededRng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
const int = (rng: SeededRng, n: number) => Math.floor(rng.next() * n);

/** Insert, delete, duplicate or replace a few characters. */
function mutate(rng: SeededRng, text: string, alphabet: readonly string[]): string {
  let s = text;
  for (let k = 1 + int(rng, 3); k > 0; k--) {
    const at = int(rng, s.length + 1);
    switch (int(rng, 4)) {
      case 0:
        s = s.slice(0, at) + pick(rng, alphabet) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(rng, 8));
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at, at + 1 + int(rng, 40)) + s.slice(at);
        break;
      default:
        s = s.slice(0, at) + pick(rng, alphabet) + s.slice(at + 1);
    }
  }
  return s;
}

function realFiles(): string[] {
  const out: string[] = [];
  const add = (dir: string, re: RegExp, n: number) => {
    const d = path.join(VNNCOMP, dir);
    if (!requireData(d, 'VNN-LIB fuzz seeds from VNN-COMP')) return;
    for (const f of fs
      .readdirSync(d)
      .filter((f) => re.test(f))
      .sort()
      .slice(0, n)) {
      const raw = fs.readFileSync(path.join(d, f));
      out.push((f.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8'));
    }
  };
  add('2021/test', /\.vnnlib$/, 10);
  add('2021/mnistfc', /\.vnnlib$/, 4);
  add('2021/marabou-cifar10/specs', /\.vnnlib\.gz$/, 1);
  return out;
}

describe(`VNN-LIB reader fuzzing (seed ${SEED})`, () => {
  const stats = { inputs: 0, parsed: 0, refused: 0, maxMs: 0 };
  const run = (text: string, file: string) => {
    const o = check(text, file);
    stats.inputs++;
    stats[o.kind === 'property' ? 'parsed' : 'refused']++;
    stats.maxMs = Math.max(stats.maxMs, o.ms);
    return o;
  };
  const t0 = Date.now();
  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(
      `vnnlib fuzz: ${stats.inputs} inputs (${stats.parsed} parsed, ${stats.refused} refused), slowest ${stats.maxMs} ms, ${((Date.now() - t0) / 1000).toFixed(1)} s in all`,
    );
  });

  it('every control character and Unicode whitespace, anywhere in a valid property', () => {
    const rng = new SeededRng(SEED);
    let parsed = 0;
    for (const ch of ODD_CHARS) {
      // each character replacing all spaces: whitespace parses, the rest is refused
      const body = SMALL.slice(SMALL.indexOf('\n') + 1); // without the comment, which a newline would end early
      if (run(body.replace(/ /g, ch), `ws-${ch.charCodeAt(0)}.vnnlib`).kind === 'property') parsed++;
      for (let k = 0; k < 25; k++) {
        const at = int(rng, SMALL.length + 1);
        run(SMALL.slice(0, at) + ch + SMALL.slice(at), `ins-${ch.charCodeAt(0)}-${k}.vnnlib`);
      }
    }
    // exactly the whitespace characters (Unicode White_Space, NEL included) parse
    expect(parsed).toBe(ODD_CHARS.filter((c) => /\s|\u0085/.test(c)).length);
  });

  it('random bytes and random token soup', () => {
    const rng = new SeededRng(SEED + 1);
    for (let k = 0; k < 400; k++) {
      const bytes = Buffer.from(Array.from({ length: int(rng, 4097) }, () => int(rng, 256)));
      run(bytes.toString('utf8'), `bytes-${k}.vnnlib`);
    }
    for (let k = 0; k < 1500; k++) {
      const n = 1 + int(rng, 60);
      run(Array.from({ length: n }, () => pick(rng, TOKENS)).join(' '), `soup-${k}.vnnlib`);
    }
  });

  it('mutations and truncations of valid files, including the VNN-COMP ones in ../shared', () => {
    const rng = new SeededRng(SEED + 2);
    const bases = [SMALL, ...realFiles()];
    const alphabet = [...TOKENS, ...ODD_CHARS];
    // the large files (tens to hundreds of KB) take milliseconds each: fewer rounds for them
    const small = bases.filter((b) => b.length <= 20000);
    const large = bases.filter((b) => b.length > 20000);
    for (let k = 0; k < 1500; k++) run(mutate(rng, pick(rng, small), alphabet), `mut-${k}.vnnlib`);
    for (let k = 0; k < (large.length ? 100 : 0); k++) run(mutate(rng, pick(rng, large), alphabet), `mut-large-${k}.vnnlib`);
    for (const [b, base] of bases.entries()) {
      const cuts = base.length > 20000 ? 20 : 60;
      for (let k = 0; k < cuts; k++) run(base.slice(0, int(rng, base.length + 1)), `cut-${b}-${k}.vnnlib`);
    }
  });

  it('deep nesting and huge disjunctions', () => {
    const rng = new SeededRng(SEED + 3);
    const head = '(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(assert (>= X_0 0))\n(assert (<= X_0 1))\n';
    for (let k = 0; k < 40; k++) {
      const depth = 1 + int(rng, 3000);
      const op = pick(rng, ['and', 'or', '+', '- 1', '']);
      const inner =
        op === '+' || op === '- 1' ? `(<= ${`(${op} `.repeat(depth)}Y_0${')'.repeat(depth)} 0)` : `${`(${op} `.repeat(depth)}(<= Y_0 0)${')'.repeat(depth)}`;
      run(`${head}(assert ${inner})`, `deep-${k}.vnnlib`);
    }
    for (let k = 0; k < 12; k++) {
      const n = 500 + int(rng, 4000);
      const d = Array.from({ length: n }, (_, i) => (rng.next() < 0.5 ? `(<= Y_${i % 2} ${i})` : `(and (>= Y_0 Y_1) (<= Y_1 ${-i}))`)).join(' ');
      const inputs =
        rng.next() < 0.5 ? '' : `(assert (or ${Array.from({ length: 1 + int(rng, 50) }, (_, i) => `(and (>= X_0 ${i}) (<= X_0 ${i + 0.5}))`).join(' ')}))\n`;
      const o = run(`${head}${inputs}(assert (or ${d}))\n(assert (<= Y_1 5))`, `disj-${k}.vnnlib`);
      expect(o.ms).toBeLessThan(LIMIT_MS);
    }
    // a product of disjunctions beyond the limit is refused, quickly
    const big = (v: string) => `(assert (or ${Array.from({ length: 400 }, (_, i) => `(<= ${v} ${i})`).join(' ')}))`;
    expect(run(`${head}${big('Y_0')}\n${big('Y_1')}`, 'product.vnnlib').kind).toBe('refused');
  });
});
