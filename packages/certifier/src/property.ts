import { ConfigError } from '@certkd/core';
import type { OutputRow } from './verdict';

/**
 * A property in network input order: the UNSAFE region is reached when some input in some
 * box makes every row of some disjunct hold (c·y <= d). The property holds (verified) when
 * no box reaches any disjunct. A disjunct with no rows is reached by every input whose output
 * is finite.
 */
export interface Property {
  /** Flat boxes in the network's (NHWC) input order, each of length prod(net.inputShape). */
  boxes: { lower: Float32Array; upper: Float32Array }[];
  disjuncts: OutputRow[][];
}

export function checkProperty(p: Property, inputSize: number, outputSize: number): void {
  if (p.boxes.length === 0) throw new ConfigError('property has no input box', undefined, 'boxes');
  for (const [i, b] of p.boxes.entries()) {
    if (b.lower.length !== inputSize || b.upper.length !== inputSize) {
      throw new ConfigError(`box ${i} has ${b.lower.length}/${b.upper.length} bounds, the network has ${inputSize} inputs`, undefined, 'boxes');
    }
    for (let k = 0; k < inputSize; k++) {
      if (!Number.isFinite(b.lower[k]) || !Number.isFinite(b.upper[k]))
        throw new ConfigError(`box ${i} has a bound that is not finite at input ${k} ([${b.lower[k]}, ${b.upper[k]}])`, undefined, 'boxes');
      if (!(b.lower[k] <= b.upper[k])) throw new ConfigError(`box ${i} is empty at input ${k} (${b.lower[k]} > ${b.upper[k]})`, undefined, 'boxes');
    }
  }
  for (const [j, conj] of p.disjuncts.entries()) {
    // a disjunct without rows is allowed: it holds at every (finite) output
    for (const r of conj) {
      if (r.c.length !== outputSize)
        throw new ConfigError(`disjunct ${j} has a row over ${r.c.length} outputs, the network has ${outputSize}`, undefined, 'disjuncts');
      if (!Number.isFinite(r.d) || !r.c.every(Number.isFinite))
        throw new ConfigError(`disjunct ${j} has a row whose coefficients or bound are not finite`, undefined, 'disjuncts');
    }
  }
}

/** Local robustness of label `label` among `classes`: unsafe when y_j >= y_label for some j != label. */
export function robustnessDisjuncts(label: number, classes: number): OutputRow[][] {
  const out: OutputRow[][] = [];
  for (let j = 0; j < classes; j++) {
    if (j === label) continue;
    const c = new Array<number>(classes).fill(0);
    c[label] = 1;
    c[j] = -1;
    out.push([{ c, d: 0 }]);
  }
  return out;
}
