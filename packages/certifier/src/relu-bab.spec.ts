import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { verifyProperty, evalFlat } from './verify';
import { certifyPoints, readPointRecords } from './points';
import { workerScript } from './batch';
import type { OutputRow } from './verdict';
import { itWithData } from '../../../tools/jest/shared-data.cjs';
import { robustnessDisjuncts } from './property';
import { filteredSmartBranching } from './relu-bab-search';
import { boundBatch, splitProblem, type BoundBatchResult, type Domain } from './relu-bab';
import { Bounds64, Net64 } from './recheck64';
import { builtinCertifierBounds } from './bound-source';

function net(seed: number, inputs: number, width = 16): Network {
  return Network.create(
    {
      inputShape: [inputs],
      layers: [
        { kind: 'dense', units: width, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: width, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    },
    new SeededRng(seed),
  );
}

const holds = (y: ArrayLike<number>, conj: OutputRow[]) => conj.every((r) => r.c.reduce((s, c, i) => s + c * y[i], 0) <= r.d);

describe('ReLU-splitting branch and bound', () => {
  it.each(['babsr', 'fsb'] as const)(
    'decides small 2-D instances (no input splitting) in agreement with dense grid sampling, %s branching',
    (branching) => {
      const before = tf.memory().numTensors;
      const seen: string[] = [];
      for (let seed = 1; seed <= 6; seed++) {
        const n = net(seed, 2);
        const rng = new SeededRng(200 + seed);
        const c = [rng.next(), rng.next()];
        const w = 0.1 + 0.4 * rng.next();
        const lo = Float32Array.from(c, (v) => v - w),
          hi = Float32Array.from(c, (v) => v + w);
        const y0 = evalFlat(n, Float32Array.from(c), 1);
        const label = y0.indexOf(Math.max(...y0));
        const slack = rng.next() * 0.3;
        const disjuncts: OutputRow[][] = robustnessDisjuncts(label, 3).map(([row]) => [{ ...row, d: slack }]);
        // only ibp before B&B, and no projected-gradient falsifier, so ReLU B&B does the work
        const v = verifyProperty(
          n,
          { boxes: [{ lower: lo, upper: hi }], disjuncts },
          { timeoutS: 10, rng, methods: ['ibp'], babMode: 'relu', pgdRestarts: 0, babBatch: 16, branching },
        );
        seen.push(`${v.kind}/${v.method}`);
        expect(['verified-incomplete', 'verified-complete', 'falsified']).toContain(v.kind);
        // grid search for a violation
        const G = 150,
          xs = new Float32Array(G * G * 2);
        for (let a = 0; a < G; a++)
          for (let b = 0; b < G; b++) {
            xs[(a * G + b) * 2] = lo[0] + ((hi[0] - lo[0]) * a) / (G - 1);
            xs[(a * G + b) * 2 + 1] = lo[1] + ((hi[1] - lo[1]) * b) / (G - 1);
          }
        const ys = evalFlat(n, xs, G * G);
        let gridFinds = false;
        for (let p = 0; p < G * G && !gridFinds; p++) gridFinds = disjuncts.some((conj) => holds(ys.subarray(p * 3, p * 3 + 3), conj));
        if (v.kind === 'falsified') {
          expect(holds(evalFlat(n, v.witness, 1), disjuncts[v.disjunct])).toBe(true);
        } else {
          expect(gridFinds).toBe(false);
        }
        n.dispose();
      }
      expect(seen.some((s) => s === 'verified-complete/relu-bab')).toBe(true);
      expect(seen.some((s) => s.startsWith('falsified'))).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    },
    30000,
  );

  it("returns each row's bound with the certificate that gives it: the float64 re-check reproduces every optimised bound", () => {
    // The optimisation keeps the best bound per row over its steps; the slopes and multipliers
    // returned must be that step's (the last step's may be worse), or the re-check refuses claims.
    const before = tf.memory().numTensors;
    let worstGap = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const n = net(seed, 5, 24);
      const rng = new SeededRng(300 + seed);
      const c = Array.from({ length: 5 }, () => rng.next());
      const lo = Float32Array.from(c, (v) => v - 0.3),
        hi = Float32Array.from(c, (v) => v + 0.3);
      const p = splitProblem(n, builtinCertifierBounds().relaxations);
      const C = Float32Array.of(1, -1, 0, 1, 0, -1);
      const R = 2;
      const common = { lr: 0.5, dvec: Float32Array.of(1e9, 1e9) };
      const root = boundBatch(p, { lower: lo, upper: hi }, [{ splits: p.widths.map((w) => new Int8Array(w)), depth: 0 }], C, R, { ...common, iters: 0 }).pre;
      // domains with a few unstable neurons of the first layer split either way
      const unstable: number[] = [];
      root[0].lower.forEach((l, j) => l < 0 && root[0].upper[j] > 0 && unstable.push(j));
      const domains: Domain[] = [0, 1, 2, 3].map((k) => {
        const splits = p.widths.map((w) => new Int8Array(w));
        unstable.slice(0, 2).forEach((j, i) => (splits[0][j] = (k >> i) & 1 ? 1 : -1));
        return { splits, depth: 2 };
      });
      const res = boundBatch(p, { lower: lo, upper: hi }, domains, C, R, { ...common, root, iters: 12 });
      const net64 = Net64.from(n) as Net64;
      const lo64 = Float64Array.from(lo),
        hi64 = Float64Array.from(hi);
      const root64 = net64.bounds(lo64, hi64) as Bounds64;
      domains.forEach((d, b) => {
        if (res.infeasible[b]) return;
        const bb = net64.bounds(lo64, hi64, { clamp: d.splits, root: root64 });
        if (!bb) return;
        const part = (arr: (Float32Array | undefined)[], r: number) => arr.map((a, q) => a?.subarray((b * R + r) * p.widths[q], (b * R + r + 1) * p.widths[q]));
        const certs = [0, 1].map((r) => ({ alpha: part(res.alphas, r), beta: part(res.betas, r), signs: d.splits }));
        const v = net64.rowLower([Array.from(C.subarray(0, 3)), Array.from(C.subarray(3, 6))], lo64, hi64, bb, certs);
        for (let r = 0; r < R; r++) {
          const lb = res.lbs[b * R + r];
          worstGap = Math.max(worstGap, (lb - v[r]) / Math.max(1, Math.abs(lb)));
        }
      });
      n.dispose();
    }
    expect(worstGap).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('filtered smart branching splits the candidate whose worse child bounds best; an empty child counts as proved', () => {
    // Two open domains told apart by an earlier split (neuron 5 or 6); three candidates each.
    const batch: Domain[] = [5, 6].map((n) => {
      const splits = [new Int8Array(8)];
      splits[0][n] = 1;
      return { splits, depth: 1 };
    });
    const picks = [
      {
        b: 0,
        openRows: [0, 1],
        cands: [
          [0, 0],
          [0, 1],
          [0, 2],
        ] as [number, number][],
      },
      {
        b: 1,
        openRows: [1],
        cands: [
          [0, 3],
          [0, 1],
          [0, 0],
        ] as [number, number][],
      },
    ];
    // lower bounds [row 0, row 1] of each child "domain:neuron:sign"; d = 0.5 for both rows
    const value: Record<string, [number, number] | 'empty'> = {
      '0:0:-1': [0.4, 2],
      '0:0:1': [3, 3], // worse child 0.4 - 0.5 = -0.1
      '0:1:-1': [1, 0.6],
      '0:1:1': [0.9, 0.9], // worse child +0.1: the best of domain 0
      '0:2:-1': [0, 0],
      '0:2:1': 'empty', // worse child -0.5
      '1:3:-1': [9, 0.2],
      '1:3:1': [9, 0.3], // worse child -0.3 (row 0 is not open)
      '1:1:-1': [-9, 0.2],
      '1:1:1': 'empty', // -0.3 as well: the BaBSR order breaks the tie
      '1:0:-1': [9, 0.1],
      '1:0:1': [9, 9], // -0.4
    };
    const sizes: number[] = [];
    const bound = (children: Domain[]): BoundBatchResult => {
      sizes.push(children.length);
      const lbs = new Float32Array(children.length * 2);
      const infeasible = children.map((c, k) => {
        expect(c.depth).toBe(2);
        const owner = c.splits[0][5] !== 0 ? 0 : 1;
        const j = [0, 1, 2, 3].find((n) => c.splits[0][n] !== 0) as number;
        const v = value[`${owner}:${j}:${c.splits[0][j]}`];
        if (v === 'empty') return true;
        lbs.set(v, k * 2);
        return false;
      });
      return { lbs, infeasible } as unknown as BoundBatchResult;
    };
    const chosen = filteredSmartBranching(picks, batch, bound, Float64Array.from([0.5, 0.5]), 2, 5);
    expect(chosen).toEqual([
      [0, 1],
      [0, 3],
    ]);
    expect(sizes).toEqual([5, 5, 2]); // 12 children in batches of at most 5
  });

  it('re-checks ReLU branch and bound on a convolutional network against a CROWN root: its claims stand', () => {
    // Without it the sub-domain re-check of a network with expanded convolutions took interval
    // root bounds, looser than the float32 search's CROWN root, and refused its claims.
    const before = tf.memory().numTensors;
    const seen: string[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const n = Network.create(
        {
          inputShape: [6, 6, 1],
          layers: [
            { kind: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', useBias: true },
            { kind: 'relu' },
            { kind: 'flatten' },
            { kind: 'dense', units: 12, useBias: true },
            { kind: 'relu' },
            { kind: 'dense', units: 3, useBias: true },
          ],
        },
        new SeededRng(seed),
      );
      const rng = new SeededRng(500 + seed);
      const c = Float32Array.from({ length: 36 }, () => rng.next());
      const w = 0.05;
      const y0 = evalFlat(n, c, 1);
      const label = y0.indexOf(Math.max(...y0));
      const disjuncts: OutputRow[][] = robustnessDisjuncts(label, 3);
      const v = verifyProperty(
        n,
        { boxes: [{ lower: c.map((x) => x - w), upper: c.map((x) => x + w) }], disjuncts },
        { timeoutS: 20, rng, methods: ['ibp'], babMode: 'relu', pgdRestarts: 0, babBatch: 16 },
      );
      seen.push(`${v.kind}/${v.method}/${'downgraded' in v ? v.downgraded : 0}`);
      n.dispose();
    }
    expect(seen.filter((s) => s.startsWith('verified-complete/relu-bab/0')).length).toBeGreaterThan(0);
    expect(seen.every((s) => s.endsWith('/0') || s.endsWith('/undefined'))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  }, 60000);

  it('rejects an unknown babMode', () => {
    const n = net(1, 2);
    const p = { boxes: [{ lower: Float32Array.from([0, 0]), upper: Float32Array.from([1, 1]) }], disjuncts: [[{ c: [1, -1, 0], d: 0 }]] };
    expect(() => verifyProperty(n, p, { babMode: 'zono' as never })).toThrow(/babMode/);
    n.dispose();
  });
});

function points(n: Network, N: number, D: number, seed: number): { xs: Float32Array; labels: Int32Array } {
  const rng = new SeededRng(seed);
  const xs = Float32Array.from({ length: N * D }, () => rng.next());
  const ys = evalFlat(n, xs, N);
  // labels: the prediction, except every third point (misclassified on purpose)
  const labels = Int32Array.from({ length: N }, (_, i) => {
    const y = Array.from(ys.subarray(i * 3, i * 3 + 3));
    const p = y.indexOf(Math.max(...y));
    return i % 3 === 2 ? (p + 1) % 3 : p;
  });
  return { xs, labels };
}

describe('certifyPoints', () => {
  it('summarises and resumes a killed run: torn last line ignored, every point exactly once', async () => {
    const n = net(11, 12);
    const N = 6;
    const { xs, labels } = points(n, N, 12, 5);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'certify-')), 'p.jsonl');
    const full = await certifyPoints(n, xs, labels, { eps: 0.02, timeoutS: 5, out });
    expect(full.n).toBe(N);
    expect(Object.values(full.counts).reduce((a, b) => a + (b ?? 0), 0)).toBe(N);
    expect(full.correct).toBe(4);
    expect(full.certified_acc).toBeCloseTo(full.certified / N);
    // simulate a crash: keep 2 lines plus half of the third
    const lines = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l);
    fs.writeFileSync(out, lines.slice(0, 2).join('\n') + '\n' + lines[2].slice(0, Math.floor(lines[2].length / 2)));
    const progress: number[] = [];
    const again = await certifyPoints(n, xs, labels, { eps: 0.02, timeoutS: 5, out, onProgress: (d) => progress.push(d) });
    expect(progress).toEqual([3, 4, 5, 6]); // only the 4 missing points were run
    expect(again.records.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(again.records.map((r) => r.verdict.kind)).toEqual(full.records.map((r) => r.verdict.kind));
    const parsed = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l)
      .flatMap((l) => {
        try {
          return [JSON.parse(l).key as string];
        } catch {
          return [];
        }
      });
    expect(parsed.sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(readPointRecords(out).size).toBe(N);
    n.dispose();
  }, 30000);

  it('rejects bad sizes and a falsifier with workers', async () => {
    const n = net(1, 4);
    await expect(certifyPoints(n, new Float32Array(7), Int32Array.from([0, 1]), { eps: 0.1, timeoutS: 1 })).rejects.toThrow(/xs has 7 values/);
    const fake = {
      name: 'x',
      run: () => {
        throw new Error('unused');
      },
    } as never;
    await expect(certifyPoints(n, new Float32Array(8), Int32Array.from([0, 1]), { eps: 0.1, timeoutS: 1, workers: 2, falsifier: fake })).rejects.toThrow(
      /falsifier/,
    );
    n.dispose();
  });

  // Needs the built dist/worker.js: `nx test @certkd/certifier` builds it first.
  itWithData(
    workerScript(),
    '2 worker threads give the same records as this thread',
    async () => {
      const n = net(12, 12);
      const { xs, labels } = points(n, 6, 12, 9);
      const single = await certifyPoints(n, xs, labels, { eps: 0.03, timeoutS: 10 });
      const multi = await certifyPoints(n, xs, labels, { eps: 0.03, timeoutS: 10, workers: 2, backend: 'cpu' });
      const strip = (s: typeof single) => s.records.map((r) => [r.index, r.label, r.predicted, r.verdict.kind, r.verdict.method]);
      expect(strip(multi)).toEqual(strip(single));
      expect(multi.counts).toEqual(single.counts);
      n.dispose();
    },
    30000,
  );
});
