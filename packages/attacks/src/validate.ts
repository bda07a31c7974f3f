import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type InputBox } from '@certkd/core';

/** Shapes an attack needs: x and the box bounds alike, one label per sample. */
export function checkAttackInputs(name: string, x: tf.Tensor, y: tf.Tensor1D, box: InputBox): void {
  const same = (a: readonly number[]) => a.length === x.shape.length && a.every((d, i) => d === x.shape[i]);
  if (!same(box.lower.shape) || !same(box.upper.shape)) {
    throw new ConfigError(`box bounds [${box.lower.shape}] / [${box.upper.shape}] must have the input's shape [${x.shape}]`, undefined, `attack '${name}'`);
  }
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new ConfigError(`labels have shape [${y.shape}] but the batch holds ${x.shape[0]} inputs`, undefined, `attack '${name}'`);
  }
}
