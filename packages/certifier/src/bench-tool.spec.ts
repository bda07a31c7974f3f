// The VNN-COMP bench runner's bookkeeping (tools/bench-verify/bench.cjs): result words, the
// published majority, the score, and where it reads the published results from.
import * as fs from 'fs';
import * as path from 'path';
import { describeWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS tool script, loaded by path (tools are not packages)
const bench = require(path.join(__dirname, '..', '..', '..', 'tools', 'bench-verify', 'bench.cjs')) as {
  norm(w: string): string;
  majority(m: Map<string, { word: string }>): string | undefined;
  score(w: string, truth?: string): number;
  parseArgs(a: string[]): Record<string, unknown>;
  publishedResults(year: string, bench: string): Map<string, Map<string, { word: string; raw: string; time: number }>>;
};

describe('bench-verify', () => {
  it('maps 2021 and 2022 words, scores +10 / -150 against the published majority', () => {
    expect(['holds', 'UNSAT', 'unsat', 'violated', 'SAT', 'sat', 'timeout', 'run_instance_timeout'].map(bench.norm)).toEqual([
      'unsat',
      'unsat',
      'unsat',
      'sat',
      'sat',
      'sat',
      'other',
      'other',
    ]);
    const m = (...w: string[]) => new Map(w.map((x, i) => [String(i), { word: x }]));
    expect(bench.majority(m('sat', 'sat', 'unsat', 'other'))).toBe('sat');
    expect(bench.majority(m('sat', 'unsat'))).toBeUndefined();
    expect(bench.score('unsat', 'unsat')).toBe(10);
    expect(bench.score('sat', 'unsat')).toBe(-150);
    expect(bench.score('timeout', 'unsat')).toBe(0);
    expect(bench.score('sat', undefined)).toBe(0);
    expect(bench.parseArgs(['2021/mnistfc', '--timeout', '30', '--workers', '2'])).toMatchObject({ year: '2021', bench: 'mnistfc', timeout: 30, workers: 2 });
    expect(() => bench.parseArgs(['/abs/path'])).toThrow(/YEAR\/NAME/);
  });

  it('names no absolute path: data under ../shared relative to the repository root', () => {
    for (const f of ['bench.cjs', 'mnistfc.cjs']) {
      const text = fs.readFileSync(path.join(__dirname, '../../../tools/bench-verify', f), 'utf8');
      expect(text).not.toMatch(/['"`]\/(work|home|root|tmp|Users)\//);
    }
  });

  describeWithData(
    [sharedPath('vnncomp', 'results', '2021', 'results_csv', 'a-b-CROWN.csv'), sharedPath('vnncomp', 'results', '2022')],
    'published results',
    () => {
      it('reads every 2021 tool of a benchmark and the 2022 per-tool folders', () => {
        const r21 = bench.publishedResults('2021', 'mnistfc');
        const p0 = r21.get('mnist-net_256x2.onnx|prop_0_0.03.vnnlib');
        expect(p0?.get('a-b-CROWN')?.word).toBe('unsat');
        expect(p0?.size).toBeGreaterThanOrEqual(10);
        const r22 = bench.publishedResults('2022', 'mnist_fc');
        expect(r22.get('mnist-net_256x2.onnx|prop_1_0.03.vnnlib')?.get('alpha_beta_crown')?.word).toBe('sat');
      });
    },
  );
});
