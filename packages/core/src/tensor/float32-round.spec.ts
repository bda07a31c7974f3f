import { SeededRng } from '../rng/seeded-rng';
import { linfBoxFlat } from './box';
import { exactBinary, roundDown32, roundUp32, sumDown32, sumUp32 } from './float32-round';

const exact = exactBinary;

/** The float32 next to a float32 f towards +inf or -inf (via the rounding helpers). */
const up32 = (f: number) => roundUp32(f + Math.abs(f) * 2 ** -30 + 2 ** -160);
const down32 = (f: number) => roundDown32(f - Math.abs(f) * 2 ** -30 - 2 ** -160);

describe('float32 outward rounding', () => {
  it('exactBinary is exact and order-preserving, subnormals and signs included', () => {
    expect(exactBinary(2 ** -1074)).toBe(1n);
    expect(exactBinary(1)).toBe(1n << 1074n);
    expect(exactBinary(-0.75)).toBe(-(3n << 1072n));
    expect(exactBinary(0.1) + exactBinary(0.2) === exactBinary(0.30000000000000004)).toBe(false); // 0.1 + 0.2 rounds
    expect(exactBinary(0.5) + exactBinary(0.25)).toBe(exactBinary(0.75));
    expect(() => exactBinary(NaN)).toThrow(RangeError);
  });

  it('roundDown32 / roundUp32 give the float32 neighbours of a float64', () => {
    for (const v of [0.4, 0.1, -0.3, 1 / 3, 1e-40, -1e-40, 0, 1, 2 ** -149]) {
      const d = roundDown32(v);
      const u = roundUp32(v);
      expect(Math.fround(d)).toBe(d);
      expect(Math.fround(u)).toBe(u);
      expect(d).toBeLessThanOrEqual(v);
      expect(u).toBeGreaterThanOrEqual(v);
      if (Math.fround(v) === v) expect([d, u]).toEqual([v, v]);
      else expect(up32(d)).toBe(u);
    }
  });

  it('sumDown32 / sumUp32 bound the exact real sum, not its float64 rounding, and are the nearest such float32', () => {
    const rng = new SeededRng(7);
    // a + b whose float64 sum is a float32 while the exact sum lies just below / above it
    const a = 0.5;
    const tiny = 2 ** -80;
    expect(a - tiny).toBe(0.5); // float64 rounds the difference back to 0.5
    expect(sumDown32(a, -tiny)).toBeLessThan(0.5);
    expect(sumUp32(a, -tiny)).toBe(0.5);
    expect(sumUp32(a, tiny)).toBeGreaterThan(0.5);
    expect(sumDown32(a, tiny)).toBe(0.5);
    const cases: [number, number][] = [];
    for (let t = 0; t < 2000; t++) {
      const x = Math.fround(rng.next());
      const eps = [0.1, 0.3, 2 / 255, 8 / 255, 0.03, rng.next() * 0.5, Math.fround(rng.next())][t % 7];
      cases.push([x, -eps], [x, eps]);
    }
    for (const [x, e] of cases) {
      const real = exact(x) + exact(e);
      const lo = sumDown32(x, e);
      const hi = sumUp32(x, e);
      expect(Math.fround(lo)).toBe(lo);
      expect(Math.fround(hi)).toBe(hi);
      expect(exact(lo) <= real).toBe(true);
      expect(exact(up32(lo)) > real).toBe(true);
      expect(exact(hi) >= real).toBe(true);
      expect(exact(down32(hi)) < real).toBe(true);
    }
  });

  it('linfBoxFlat contains the real ball around every point (clipped to the range), one float32 step at most outside', () => {
    const rng = new SeededRng(11);
    const x = Float32Array.from({ length: 4000 }, () => rng.next());
    for (const eps of [0.1, 0.3, 2 / 255, 0.015]) {
      const { lower, upper } = linfBoxFlat(x, eps);
      for (let k = 0; k < x.length; k++) {
        const l = x[k] - eps <= 0 ? 0n : exact(x[k]) - exact(eps);
        const u = x[k] + eps >= 1 ? exact(1) : exact(x[k]) + exact(eps);
        expect(exact(lower[k]) <= l).toBe(true);
        expect(exact(up32(lower[k])) > l).toBe(true);
        expect(exact(upper[k]) >= u).toBe(true);
        expect(exact(down32(upper[k])) < u).toBe(true);
      }
    }
  });
});
