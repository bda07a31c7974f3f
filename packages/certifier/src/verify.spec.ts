import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng, createPluginContainer, pluginRegistry } from '@certkd/core';
import { registerBounds } from '@certkd/bounds';
import { verifyProperty, evalFlat } from './verify';
import { runDatasetPoints, doneKeys } from './batch';
import { registerCertifier } from './register';
import type { OutputRow } from './verdict';
import { robustnessDisjuncts } from './property';

function smallNet(seed: number, inputs: number): Network {
  return Network.create(
    {
      inputShape: [inputs],
      layers: [
        { kind: 'dense', units: 20, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 20, useBias: true },
        { kind: 'relu' },
        { kind: 'dense', units: 3, useBias: true },
      ],
    },
    new SeededRng(seed),
  );
}

/** Unsafe iff some grid point of the box satisfies a disjunct (can only find counterexamples). */
function gridViolation(net: Network, lo: Float32Array, hi: Float32Array, disjuncts: OutputRow[][], n: number): boolean {
  const D = lo.length;
  const total = n ** D;
  const xs = new Float32Array(total * D);
  for (let p = 0; p < total; p++) {
    let q = p;
    for (let k = 0; k < D; k++) {
      xs[p * D + k] = lo[k] + ((hi[k] - lo[k]) * (q % n)) / (n - 1);
      q = Math.floor(q / n);
    }
  }
  const ys = evalFlat(net, xs, total);
  for (let p = 0; p < total; p++) {
    const y = ys.subarray(p * 3, p * 3 + 3);
    if (disjuncts.some((conj) => conj.every((r) => r.c.reduce((s, c, i) => s + c * y[i], 0) <= r.d))) return true;
  }
  return false;
}

describe('verifyProperty completeness on small random ReLU networks', () => {
  it('every instance is decided within 10 s and agrees with dense grid sampling', () => {
    const before = tf.memory().numTensors;
    const kinds: string[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const net = smallNet(seed, 2);
      const rng = new SeededRng(100 + seed);
      const c = [rng.next(), rng.next()];
      const w = 0.05 + 0.4 * rng.next();
      const lo = Float32Array.from(c, (v) => v - w),
        hi = Float32Array.from(c, (v) => v + w);
      const y0 = evalFlat(net, Float32Array.from(c), 1);
      const label = y0.indexOf(Math.max(...y0));
      // unsafe: some other class reaches the centre's top class minus a random slack
      const slack = rng.next() * 0.5;
      const disjuncts: OutputRow[][] = robustnessDisjuncts(label, 3).map(([row]) => [{ ...row, d: slack }]);
      const v = verifyProperty(net, { boxes: [{ lower: lo, upper: hi }], disjuncts }, { timeoutS: 10, rng, methods: ['ibp', 'crown'] });
      kinds.push(`${v.kind}/${v.method}`);
      expect(['verified-incomplete', 'verified-complete', 'falsified']).toContain(v.kind);
      expect(v.time_s).toBeLessThan(10);
      const gridFinds = gridViolation(net, lo, hi, disjuncts, 120);
      if (v.kind === 'falsified') {
        const y = evalFlat(net, v.witness, 1);
        expect(disjuncts[v.disjunct].every((r) => r.c.reduce((s, cc, i) => s + cc * y[i], 0) <= r.d)).toBe(true);
        for (let k = 0; k < 2; k++) {
          expect(v.witness[k]).toBeGreaterThanOrEqual(lo[k]);
          expect(v.witness[k]).toBeLessThanOrEqual(hi[k]);
        }
      } else {
        expect(gridFinds).toBe(false);
      }
      net.dispose();
    }
    // the set must exercise both outcomes
    expect(kinds.some((k) => k.startsWith('falsified'))).toBe(true);
    expect(kinds.some((k) => k.startsWith('verified'))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  }, 60000);
});

describe('runDatasetPoints', () => {
  it('streams JSONL and resumes without redoing points', () => {
    const net = smallNet(7, 5);
    const rng = new SeededRng(3);
    const xs = Array.from({ length: 4 }, () => Float32Array.from({ length: 5 }, () => rng.next()));
    const labels = xs.map((x) => {
      const y = evalFlat(net, x, 1);
      return y.indexOf(Math.max(...y));
    });
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cert-')), 'r.jsonl');
    const first = runDatasetPoints(net, xs.slice(0, 2), labels.slice(0, 2), { out, eps: 0.01, timeoutS: 5 });
    expect(first.length).toBe(2);
    const second = runDatasetPoints(net, xs, labels, { out, eps: 0.01, timeoutS: 5 });
    expect(second.map((r) => r.index)).toEqual([2, 3]);
    expect([...doneKeys(out)].sort()).toEqual(['0', '1', '2', '3']);
    net.dispose();
  });
});

describe('registerCertifier', () => {
  it('registers the escalation certifier-stage whose certify verifies', () => {
    const plugins = createPluginContainer();
    registerBounds(plugins);
    registerCertifier(plugins);
    const reg = pluginRegistry(plugins);
    const stage = reg.create('certifier-stage', 'escalation', { methods: ['crown'], timeoutS: 5 });
    const net = smallNet(2, 2);
    const x = Float32Array.from([0.5, 0.5]);
    const y = evalFlat(net, x, 1);
    const label = y.indexOf(Math.max(...y));
    const disjuncts = [0, 1, 2]
      .filter((j) => j !== label)
      .map((j) => {
        const c = [0, 0, 0];
        c[label] = 1;
        c[j] = -1;
        return [{ c, d: 0 }];
      });
    const v = stage.certify(net, { boxes: [{ lower: Float32Array.from([0.499, 0.499]), upper: Float32Array.from([0.501, 0.501]) }], disjuncts });
    expect(v.kind).toBe('verified-incomplete');
    expect(() => reg.create('certifier-stage', 'escalation', { methods: ['zonotope'] })).toThrow();
    expect(() => reg.create('certifier-stage', 'escalation', { relaxations: { relu: 'dense' } })).toThrow(/covers layer kind 'dense', not 'relu'/);
    expect(reg.create('certifier-stage', 'escalation', { relaxations: { relu: 'relu' } }).bounds.relaxations.get('relu')?.name).toBe('relu');
    net.dispose();
  });
});
