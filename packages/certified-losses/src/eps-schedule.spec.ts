import { crownIbpBeta, epsSchedule } from './eps-schedule';

describe('epsSchedule', () => {
  const o = { epsMax: 0.3, startEpoch: 1, rampEpochs: 4, stepsPerEpoch: 10 };
  const f = epsSchedule(o);
  const s0 = 10;
  const s2 = 50;
  const s1 = 20; // a quarter of the ramp

  it('is zero until the start epoch and epsMax from the ramp end', () => {
    for (let s = 0; s <= s0; s++) expect(f(s)).toBe(0);
    expect(f(s2)).toBeCloseTo(0.3, 12);
    expect(f(s2 + 100)).toBe(0.3);
  });

  it('grows as (s - s0)^4 in the first quarter of the ramp', () => {
    const a = f(s0 + 1);
    expect(a).toBeGreaterThan(0);
    for (let k = 1; k <= s1 - s0; k++) expect(f(s0 + k)).toBeCloseTo(a * k ** 4, 12);
  });

  it('is linear after the first quarter, continuous in value and slope where the pieces meet', () => {
    const slope = f(s1 + 1) - f(s1);
    for (let s = s1; s < s2; s++) expect(f(s + 1) - f(s)).toBeCloseTo(slope, 12);
    const a = f(s0 + 1);
    // derivative of a x^4 at x = 10 is 4 a 10^3
    expect(slope).toBeCloseTo(4 * a * 1000, 9);
    for (let s = 0; s < s2 + 5; s++) expect(f(s + 1)).toBeGreaterThanOrEqual(f(s));
  });

  it('handles a zero-length ramp and rejects bad settings', () => {
    const g = epsSchedule({ ...o, rampEpochs: 0 });
    expect(g(9)).toBe(0);
    expect(g(10)).toBe(0.3);
    expect(() => epsSchedule({ ...o, stepsPerEpoch: 0 })).toThrow(/stepsPerEpoch/);
    expect(() => epsSchedule({ ...o, epsMax: -1 })).toThrow(/epsMax/);
  });

  it('crownIbpBeta goes from 1 to 0 as eps ramps', () => {
    expect(crownIbpBeta(0, 0.3)).toBe(1);
    expect(crownIbpBeta(0.15, 0.3)).toBeCloseTo(0.5, 12);
    expect(crownIbpBeta(0.3, 0.3)).toBe(0);
  });
});
