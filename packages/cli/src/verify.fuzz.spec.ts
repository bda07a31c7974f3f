// CLI-level fuzzing of `certkd verify` (issue #16): the real command on mutated VNN-LIB
// properties against a small ONNX network, inside a sentinel tree that no run may touch.
// Every run must exit 0 (a VNN-COMP word) or 2 (one line naming the file), never 1, a stack
// trace, a signal or an overrun; a property known to be malformed never gets `unsat`.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SeededRng } from '@certkd/core';
import { describeWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeSentinel, snapshot, diffSnapshots } = require('../../../tools/jest/sentinel.cjs');

const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first
const TEST = sharedPath('vnncomp', '2021', 'test');
const NET = path.join(TEST, 'test_unsat.onnx'); // the valid property holds here: `unsat` would be the answer
const PROP = path.join(TEST, 'test_prop.vnnlib');
const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 16);
const WORDS = ['sat', 'unsat', 'timeout', 'unknown'];

const pick = <T>(rng: SeededRng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
const int = (rng: SeededRng, n: number) => Math.floor(rng.next() * n);
const ODD = ['\u000c', '\u000b', '\u00a0', '\u2028', '\ufeff', '\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '(', ')', '|', ';', 'NaN', '1e999', '-'];

/** A few random edits (insert, delete, duplicate) of the text. */
function mutate(rng: SeededRng, text: string): string {
  let s = text;
  for (let k = 1 + int(rng, 3); k > 0; k--) {
    const at = int(rng, s.length + 1);
    const r = int(rng, 3);
    s =
      r === 0
        ? s.slice(0, at) + pick(rng, ODD) + s.slice(at)
        : r === 1
          ? s.slice(0, at) + s.slice(at + 1 + int(rng, 6))
          : s.slice(0, at) + s.slice(at, at + 1 + int(rng, 30)) + s.slice(at);
  }
  return s;
}

describeWithData([MAIN, NET, PROP], 'certkd verify fuzzing (CLI)', () => {
  it(`~20 mutated properties (seed ${SEED}): exit 0 or 2, one-line messages, never unsat when malformed, nothing touched outside the output folder`, () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-vfuzz-'));
    try {
      makeSentinel(root);
      const work = path.join(root, 'work');
      const props = path.join(work, 'props');
      const out = path.join(work, 'out');
      fs.mkdirSync(props, { recursive: true });
      fs.mkdirSync(out);
      const valid = fs.readFileSync(PROP, 'utf8');
      const rng = new SeededRng(SEED);
      // [name, text, known to be malformed]
      const cases: [string, string | Buffer, boolean][] = [
        ['valid.vnnlib', valid, false],
        ['formfeed.vnnlib', valid.replace(/ /g, '\u000c'), false],
        ['nbsp-bom.vnnlib', '\ufeff' + valid.replace(/ /g, '\u00a0'), false],
        ['truncated.vnnlib', valid.slice(0, Math.floor(valid.length * 0.7)), true],
        ['nan.vnnlib', valid.replace('(<= Y_0 Y_1)', '(<= Y_0 NaN)'), true],
        ['overflow.vnnlib', valid.replace('(<= Y_0 Y_1)', '(<= (* 1e200 1e200 Y_0) Y_1)'), true],
        ['empty-box.vnnlib', valid.replace('(assert (>= X_3 0.3))', '(assert (>= X_3 0.7))'), true],
        ['deep.vnnlib', valid.replace('(assert (<= Y_0 Y_1))', `(assert ${'(and '.repeat(20000)}(<= Y_0 Y_1)${')'.repeat(20000)})`), true],
        ['control.vnnlib', valid.replace('(<= Y_0 Y_2)', '(<= Y_0\u0001 Y_2)'), true],
        ['bytes.vnnlib', Buffer.from(Array.from({ length: 4096 }, () => int(rng, 256))), true],
        [
          'disj.vnnlib',
          valid.replace('(assert (<= Y_0 Y_1))', `(assert (or ${Array.from({ length: 1000 }, (_, i) => `(<= Y_0 (- Y_1 ${i / 1000}))`).join(' ')}))`),
          false,
        ],
      ];
      for (let k = 0; cases.length < 22; k++) cases.push([`mut-${k}.vnnlib`, mutate(rng, valid), false]);
      for (const [name, text] of cases) fs.writeFileSync(path.join(props, name), text);

      const before = snapshot(root, [out]);
      const seen: string[] = [];
      for (const [name, , malformed] of cases) {
        const t0 = Date.now();
        const r = spawnSync(
          process.execPath,
          [bin, 'verify', NET, path.join('props', name), '--timeout', '5', '--backend', 'cpu', '--out', path.join('out', `${name}.txt`)],
          {
            cwd: work,
            encoding: 'utf8',
            timeout: 60000,
          },
        );
        const what = `${name}: status ${r.status} signal ${r.signal} stderr ${JSON.stringify(r.stderr.slice(0, 300))}`;
        if (r.error || r.signal) throw new Error(`${what}: did not end by itself (${r.error?.message ?? r.signal})`);
        expect([what, [0, 2].includes(r.status!)]).toEqual([what, true]);
        expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+|FATAL|heap out of memory/);
        if (r.status === 2) {
          expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
          expect(r.stderr).toContain(name);
          expect(r.stdout).toBe('');
        } else {
          const word = r.stdout.split('\n')[0];
          expect(WORDS).toContain(word);
          if (malformed) throw new Error(`${what}: a malformed property was answered '${word}'`);
          expect((Date.now() - t0) / 1000).toBeLessThan(5 + 3); // the budget plus process start-up
        }
        seen.push(`${name}:${r.status}`);
        const diff = diffSnapshots(before, snapshot(root, [out]));
        expect([name, diff]).toEqual([name, []]);
      }
      // the valid property and its whitespace variants are decided like the original
      expect(seen.slice(0, 3)).toEqual(['valid.vnnlib:0', 'formfeed.vnnlib:0', 'nbsp-bom.vnnlib:0']);
      expect(fs.readFileSync(path.join(out, 'formfeed.vnnlib.txt'), 'utf8')).toBe(fs.readFileSync(path.join(out, 'valid.vnnlib.txt'), 'utf8'));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 240000);
});
