import { ConfigError } from '@certkd/core';

export interface EpsScheduleOptions {
  /** Target radius (pixel space). */
  epsMax: number;
  /** Epoch (0-based) at which eps starts to grow; zero before. */
  startEpoch: number;
  /** Length of the ramp in epochs; eps reaches epsMax at startEpoch + rampEpochs. */
  rampEpochs: number;
  stepsPerEpoch: number;
  /** Fraction of the ramp that is polynomial (default 0.25) and its exponent (default 4). */
  polyFraction?: number;
  exponent?: number;
}

/**
 * The smoothed per-batch eps schedule of Shi et al. 2021 (METHODS 6): zero until the start
 * epoch, then epsMax-scaled polynomial growth a (s - s0)^p up to a quarter of the ramp, then
 * linear to epsMax at the ramp's end, with value and slope continuous where they meet.
 * Returns eps as a function of the global step (0-based batch counter).
 */
export function epsSchedule(o: EpsScheduleOptions): (globalStep: number) => number {
  const p = o.exponent ?? 4;
  const frac = o.polyFraction ?? 0.25;
  const check = (ok: boolean, field: string, msg: string) => {
    if (!ok) throw new ConfigError(msg, undefined, `epsSchedule.${field}`);
  };
  check(Number.isFinite(o.epsMax) && o.epsMax >= 0, 'epsMax', `must be a finite number >= 0, got ${o.epsMax}`);
  check(Number.isFinite(o.startEpoch) && o.startEpoch >= 0, 'startEpoch', `must be >= 0, got ${o.startEpoch}`);
  check(Number.isFinite(o.rampEpochs) && o.rampEpochs >= 0, 'rampEpochs', `must be >= 0, got ${o.rampEpochs}`);
  check(Number.isInteger(o.stepsPerEpoch) && o.stepsPerEpoch > 0, 'stepsPerEpoch', `must be a positive integer, got ${o.stepsPerEpoch}`);
  check(frac > 0 && frac < 1, 'polyFraction', `must be in (0, 1), got ${frac}`);
  check(p >= 1, 'exponent', `must be >= 1, got ${p}`);

  const s0 = o.startEpoch * o.stepsPerEpoch;
  const s2 = (o.startEpoch + o.rampEpochs) * o.stepsPerEpoch;
  const s1 = s0 + (s2 - s0) * frac;
  const a = s2 > s0 ? polyCoefficient(o.epsMax, s1 - s0, s2 - s1, p) : 0;
  const mid = a * Math.pow(s1 - s0, p);
  return (step: number) => {
    if (step < s0) return 0;
    if (step >= s2) return o.epsMax;
    if (step < s1) return a * Math.pow(step - s0, p);
    return mid + ((o.epsMax - mid) * (step - s1)) / (s2 - s1);
  };
}

// a with a x^p (x = polynomial length) joined C1-continuously to a line reaching epsMax after
// `lin` more steps: a x^p + p a x^(p-1) lin = epsMax.
function polyCoefficient(epsMax: number, x: number, lin: number, p: number): number {
  return epsMax / (Math.pow(x, p - 1) * (x + p * lin));
}

/** CROWN-IBP mixing weight b_t = 1 - eps_t / epsMax (1 at the start of the ramp, 0 at its end). */
export function crownIbpBeta(eps: number, epsMax: number): number {
  if (!(epsMax > 0)) return 0;
  return Math.min(1, Math.max(0, 1 - eps / epsMax));
}
