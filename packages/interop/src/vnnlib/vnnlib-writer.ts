import { ConfigError, linfBoxFlat } from '@certkd/core';

export interface RobustnessVnnlibOptions {
  /** Lower clip of the input box (default 0). */
  lo?: number;
  /** Upper clip of the input box (default 1). */
  hi?: number;
}

/**
 * One local-robustness property in the VNN-COMP layout: the input box [x - eps, x + eps]
 * clipped to [lo, hi] (rounded outwards to float32; x in the ONNX input's flat order), and
 * the unsafe region (or (and (>= Y_j Y_label)) ...) over j != label.
 */
export function writeRobustnessVnnlib(x: Float32Array, label: number, eps: number, classes: number, opts: RobustnessVnnlibOptions = {}): string {
  const lo = opts.lo ?? 0;
  const hi = opts.hi ?? 1;
  if (!Number.isInteger(classes) || classes < 2) throw new ConfigError(`classes must be an integer >= 2, got ${classes}`, undefined, 'classes');
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new ConfigError(`label ${label} is not in 0..${classes - 1}`, undefined, 'label');
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ConfigError(`eps must be a finite number >= 0, got ${eps}`, undefined, 'eps');
  if (!(lo <= hi)) throw new ConfigError(`lo (${lo}) must not exceed hi (${hi})`, undefined, 'lo');
  if (x.length === 0) throw new ConfigError('the input x is empty', undefined, 'x');
  const box = linfBoxFlat(x, eps, [lo, hi]); // rounded outwards to float32
  const out: string[] = [];
  out.push(`; Local robustness: label ${label}, eps ${fmt(eps)}, box clipped to [${fmt(lo)}, ${fmt(hi)}]`);
  out.push('');
  for (let i = 0; i < x.length; i++) out.push(`(declare-const X_${i} Real)`);
  out.push('');
  for (let j = 0; j < classes; j++) out.push(`(declare-const Y_${j} Real)`);
  out.push('', '; Input constraints:');
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new ConfigError(`x[${i}] is not finite`, undefined, 'x');
    const l = box.lower[i];
    const u = box.upper[i];
    if (l > u) throw new ConfigError(`x[${i}] = ${x[i]} lies outside [${lo}, ${hi}] by more than eps`, undefined, 'x');
    out.push(`(assert (<= X_${i} ${fmt(u)}))`, `(assert (>= X_${i} ${fmt(l)}))`);
  }
  out.push('', '; Output constraints (the unsafe region):', '(assert (or');
  for (let j = 0; j < classes; j++) if (j !== label) out.push(`    (and (>= Y_${j} Y_${label}))`);
  out.push('))', '');
  return out.join('\n');
}

/** A number as a plain decimal (no exponent) that reads back as the same double. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) throw new ConfigError(`cannot write the non-finite number ${v}`);
  const s = Object.is(v, -0) ? '0' : String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  let plain = s;
  if (m) {
    const [, sign, d0, rest = '', expS] = m;
    const digits = d0 + rest;
    const exp = Number(expS);
    const point = 1 + exp; // position of the decimal point within digits
    if (point <= 0) plain = `${sign}0.${'0'.repeat(-point)}${digits}`;
    else if (point >= digits.length) plain = `${sign}${digits}${'0'.repeat(point - digits.length)}`;
    else plain = `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return plain.includes('.') ? plain : `${plain}.0`;
}
