import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, InputBox, linfBox } from '@certkd/core';

/** The L-inf box of radius eps around x (pixel space), clipped to [lo, hi]; same shape as x (core's linfBox). */
export function boxAround(x: tf.Tensor, eps: number, lo = 0, hi = 1): InputBox {
  return linfBox(x, eps, [lo, hi]);
}

/** Spec matrices C(y) with rows e_y - e_j for j != y (METHODS 1): [N, K-1, K]. */
export function specMatrix(y: tf.Tensor1D, classes: number): tf.Tensor3D {
  if (!Number.isInteger(classes) || classes < 2) throw new ConfigError(`classes must be an integer >= 2, got ${classes}`, undefined, 'classes');
  const labels = y.dataSync();
  const n = labels.length;
  const k = classes;
  const out = new Float32Array(n * (k - 1) * k);
  for (let s = 0; s < n; s++) {
    const t = labels[s];
    if (!Number.isInteger(t) || t < 0 || t >= k) throw new ConfigError(`label ${t} at index ${s} is outside [0, ${k - 1}]`, undefined, 'y');
    let row = 0;
    for (let j = 0; j < k; j++) {
      if (j === t) continue;
      const base = (s * (k - 1) + row) * k;
      out[base + t] = 1;
      out[base + j] = -1;
      row++;
    }
  }
  return tf.tensor3d(out, [n, k - 1, k]);
}
