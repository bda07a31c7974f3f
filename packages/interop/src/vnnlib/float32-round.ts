const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** The float32 one step from `f` (a float32 value) towards +inf (dir 1) or -inf (dir -1). */
function step(f: number, dir: 1 | -1): number {
  if (f === 0) return dir * 1.401298464324817e-45;
  f32[0] = f;
  i32[0] += f > 0 === dir > 0 ? 1 : -1;
  return f32[0];
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
