const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The float32 one step from `f` (a float32 value) towards +inf (dir 1) or -inf (dir -1). */
function step(f: number, dir: 1 | -1): number {
  if (f === 0) return dir * 1.401298464324817e-45;
  f32[0] = f;
  i32[0] += f > 0 === dir > 0 ? 1 : -1;
  return f32[0];
}

/** The float32 just below the float32 f. */
export function nextDown32(f: number): number {
  return step(f, -1);
}

/** The float32 just above the float32 f. */
export function nextUp32(f: number): number {
  return step(f, 1);
}

/** The largest float32 <= v. */
export function roundDown32(v: number): number {
  const f = Math.fround(v);
  return f > v ? step(f, -1) : f;
}

/** The smallest float32 >= v. */
export function roundUp32(v: number): number {
  const f = Math.fround(v);
  return f < v ? step(f, 1) : f;
}

/**
 * The largest float32 <= a + b, for the exact real sum (not its float64 rounding): the float64
 * sum s and its exact error (TwoSum, Knuth) say on which side of s the real sum lies. A float32
 * is a float64, and no float64 lies strictly between s and the real sum, so only an s that is
 * itself a float32 can need the extra step.
 */
export function sumDown32(a: number, b: number): number {
  const s = a + b;
  const r = roundDown32(s);
  return r === s && twoSumError(a, b, s) < 0 ? step(r, -1) : r;
}

/** The smallest float32 >= a + b, for the exact real sum (see sumDown32). */
export function sumUp32(a: number, b: number): number {
  const s = a + b;
  const r = roundUp32(s);
  return r === s && twoSumError(a, b, s) > 0 ? step(r, 1) : r;
}

/** (a + b) - fl(a + b), exactly (Knuth's TwoSum; finite inputs without overflow). */
export function twoSumError(a: number, b: number, s: number): number {
  if (!Number.isFinite(s)) return 0;
  const bb = s - a;
  return a - (s - bb) + (b - bb);
}

/**
 * A finite float64 as an exact integer multiple of 2^-1074 (every finite float64 is one), for
 * exact comparisons in soundness checks: exactBinary(a) < exactBinary(b) + exactBinary(c) is
 * a < b + c in real arithmetic.
 */
export function exactBinary(v: number): bigint {
  if (!Number.isFinite(v)) throw new RangeError(`exactBinary: ${v} is not finite`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v);
  const bits = view.getBigUint64(0);
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const mag = e === 0 ? frac : (frac | (1n << 52n)) << BigInt(e - 1);
  return bits >> 63n ? -mag : mag;
}
