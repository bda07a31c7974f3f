// Helpers shared by the interop specs (excluded from the build with the specs' own folder rule).
import * as tf from '@tensorflow/tfjs-core';
import { ARCHITECTURES, Network, SeededRng } from '@certkd/core';
import type { NetworkSpec } from '@certkd/core';

export function build(arch: string, shape: [number, number, number], opts: { hidden?: number[]; batchnorm?: boolean } = {}, classes = 5): NetworkSpec {
  const b = ARCHITECTURES.find((a) => a.name === arch);
  if (!b) throw new Error(`no architecture ${arch}`);
  const c = shape[2];
  return b.build(
    { shape, classes, mean: Array.from({ length: c }, (_, i) => 0.4 + 0.05 * i), std: Array.from({ length: c }, (_, i) => 0.2 + 0.03 * i) },
    { batchnorm: opts.batchnorm ?? true, hidden: opts.hidden ?? [256, 256] },
  );
}

/** A network with non-trivial parameters everywhere, BatchNorm running statistics included. */
export function makeNet(spec: NetworkSpec, seed: number): Network {
  const rng = new SeededRng(seed);
  const net = Network.create(spec, rng);
  tf.tidy(() => {
    for (const [key, v] of net.namedParams()) {
      const name = key.split('.').pop();
      if (name === 'kernel') continue;
      const positive = name === 'movingVariance' || name === 'gamma';
      const vals = Float32Array.from({ length: v.size }, () => (positive ? 0.5 + rng.next() : 0.3 * rng.normal()));
      v.assign(tf.tensor(vals, v.shape));
    }
  });
  return net;
}

export function randomInput(shape: number[], seed: number, lo = 0, hi = 1): Float32Array {
  const rng = new SeededRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/** NHWC [n, h, w, c] -> NCHW flat data. */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch];
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function predictData(net: Network, x: Float32Array, batch: number): Float32Array {
  return tf.tidy(() => net.predict(tf.tensor(x, [batch, ...net.inputShape])).dataSync() as Float32Array);
}
