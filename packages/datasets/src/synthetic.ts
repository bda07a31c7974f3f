import type { DatasetLoadOptions, DatasetSource, LoadedDataset } from '@certkd/core';
import { ConfigError, SeededRng } from '@certkd/core';
import { Uint8Split } from './uint8-split';

export interface SyntheticOptions {
  /** Training examples. */
  n: number;
  /** Test examples (default n / 4, at least `classes`). */
  testN?: number;
  /** [H, W, C] */
  shape: [number, number, number];
  classes: number;
  seed: number;
  /** Std of the Gaussian pixel noise around each class pattern (pixel units, default 0.15). */
  noise?: number;
}

/**
 * A learnable synthetic dataset: each class has a fixed random pattern of dark (0.2) and
 * bright (0.8) pixels; an example is its class pattern plus Gaussian noise, clipped to [0, 1]
 * and stored as bytes. Labels cycle through the classes in a seeded random order.
 */
export function makeSynthetic(o: SyntheticOptions): LoadedDataset {
  const [h, w, c] = o.shape;
  for (const [k, v] of [
    ['n', o.n],
    ['classes', o.classes],
    ['shape[0]', h],
    ['shape[1]', w],
    ['shape[2]', c],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`must be a positive integer, got ${v}`, undefined, `synthetic.${k}`);
  }
  if (o.classes > 255 * 255) throw new ConfigError(`too many classes: ${o.classes}`, undefined, 'synthetic.classes');
  const noise = o.noise ?? 0.15;
  if (!(noise >= 0)) throw new ConfigError(`must be >= 0, got ${noise}`, undefined, 'synthetic.noise');
  const testN = o.testN ?? Math.max(o.classes, Math.floor(o.n / 4));
  if (!Number.isInteger(testN) || testN < 1) throw new ConfigError(`must be a positive integer, got ${testN}`, undefined, 'synthetic.testN');
  const d = h * w * c;
  const rng = new SeededRng(o.seed);
  const patterns: Float32Array[] = [];
  for (let k = 0; k < o.classes; k++) {
    const p = new Float32Array(d);
    for (let j = 0; j < d; j++) p[j] = rng.next() < 0.5 ? 0.2 : 0.8;
    patterns.push(p);
  }
  const make = (n: number, r: SeededRng, where: string) => {
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = i % o.classes;
    r.shuffle(labels);
    const pixels = new Uint8Array(n * d);
    for (let i = 0; i < n; i++) {
      const p = patterns[labels[i]];
      for (let j = 0; j < d; j++) {
        const v = p[j] + noise * r.normal();
        pixels[i * d + j] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
    return new Uint8Split(pixels, labels, [h, w, c], o.classes, where);
  };
  const train = make(o.n, rng.fork(), 'synthetic (train)');
  const test = make(testN, rng.fork(), 'synthetic (test)');
  return {
    name: 'synthetic',
    input: { shape: [h, w, c], classes: o.classes, mean: new Array(c).fill(0), std: new Array(c).fill(1) },
    train,
    test,
    classNames: Array.from({ length: o.classes }, (_, k) => `class-${k}`),
    augmentation: { cropPadding: 0, flip: false },
  };
}

export class SyntheticSource implements DatasetSource {
  constructor(private readonly options: SyntheticOptions) {}
  async load(_opts: DatasetLoadOptions = {}): Promise<LoadedDataset> {
    return makeSynthetic(this.options);
  }
}
