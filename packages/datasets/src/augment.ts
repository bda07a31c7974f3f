import type { Augmentation } from '@certkd/core';
import { ConfigError, SeededRng } from '@certkd/core';

/** True when the augmentation changes anything. */
export function isActive(aug: Augmentation | undefined): aug is Augmentation {
  return !!aug && (aug.cropPadding > 0 || aug.flip);
}

/**
 * Augment `n` NHWC images (pixel space): zero-pad by `cropPadding`, take a random crop of the
 * original size, then flip horizontally with probability 1/2. Per image the generator is drawn
 * in the order: row offset, column offset, flip. Returns a new array; `x` is not modified.
 */
export function augmentImages(x: Float32Array, n: number, shape: readonly [number, number, number], aug: Augmentation, rng: SeededRng): Float32Array {
  const [h, w, c] = shape;
  const p = aug.cropPadding;
  if (!Number.isInteger(p) || p < 0) throw new ConfigError(`must be a non-negative integer, got ${p}`, undefined, 'augmentation.cropPadding');
  const d = h * w * c;
  if (x.length !== n * d) throw new RangeError(`augmentImages: ${x.length} values are not ${n} images of [${shape.join(', ')}]`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const dy = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const dx = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const flip = aug.flip ? rng.next() < 0.5 : false;
    const base = i * d;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      if (sr < 0 || sr >= h) continue; // zero padding: row stays 0
      for (let q = 0; q < w; q++) {
        const cc = flip ? w - 1 - q : q;
        const sc = cc + dx;
        if (sc < 0 || sc >= w) continue;
        const src = base + (sr * w + sc) * c;
        const dst = base + (r * w + q) * c;
        for (let k = 0; k < c; k++) out[dst + k] = x[src + k];
      }
    }
  }
  return out;
}
