import { SeededRng } from './seeded-rng';

describe('SeededRng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  it('restores its state exactly', () => {
    const a = new SeededRng(7);
    a.next();
    const s = a.getState();
    const x = [a.next(), a.next()];
    const b = new SeededRng(0);
    b.setState(s);
    expect([b.next(), b.next()]).toEqual(x);
  });

  it('draws uniform floats in [0,1) with the right mean and normals with unit variance', () => {
    const r = new SeededRng(1);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      s += u;
      const z = r.normal();
      s2 += z * z;
    }
    expect(s / n).toBeCloseTo(0.5, 1);
    expect(s2 / n).toBeCloseTo(1, 1);
  });

  it('permutation is a permutation', () => {
    const p = new SeededRng(3).permutation(100);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
