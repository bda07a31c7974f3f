import * as tf from '@tensorflow/tfjs-core';
import { Network, SeededRng } from '@certkd/core';
import { backwardLower, boxInterval, prepare } from './engine';
import { crownState } from './crown';

/** The backward-pass hooks branch and bound uses: split terms, captured and input coefficients. */
describe('backwardLower hooks', () => {
  it('captures every ReLU layer, exposes the input coefficients, and subtracts the terms exactly', () => {
    const net = Network.create(
      {
        inputShape: [5],
        layers: [
          { kind: 'dense', units: 7, useBias: true },
          { kind: 'relu' },
          { kind: 'dense', units: 6, useBias: true },
          { kind: 'relu' },
          { kind: 'dense', units: 3, useBias: true },
        ],
      },
      new SeededRng(3),
    );
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomUniform([2, 5], 0, 1, 'float32', 4);
      const box = { lower: tf.sub(x, 0.2), upper: tf.add(x, 0.2) };
      const p = prepare(net, box, {}, 'test');
      const base = boxInterval(box);
      const { pre } = crownState(p, base);
      const rows = tf.tile(
        tf.tensor3d([
          [
            [1, -1, 0],
            [0, 1, -1],
          ],
        ]),
        [2, 1, 1],
      );
      const plain = backwardLower(p, rows, p.end, 0, base, pre).arraySync() as number[][];
      const seen: number[] = [];
      let input: tf.Tensor | undefined;
      const zeroTerms: (tf.Tensor | undefined)[] = [];
      zeroTerms[3] = tf.zeros([2, 2, 6]);
      const hooked = backwardLower(p, rows, p.end, 0, base, pre, undefined, {
        terms: zeroTerms,
        capture: (i) => seen.push(i),
        input: (A) => (input = A),
      }).arraySync() as number[][];
      expect(seen).toEqual([3, 1]);
      expect(input?.shape).toEqual([2, 2, 5]);
      hooked.forEach((r, s) => r.forEach((v, m) => expect(v).toBeCloseTo(plain[s][m], 5)));
      // a non-zero term changes the bound (it is the bound of c·y - t·z)
      const terms: (tf.Tensor | undefined)[] = [];
      terms[3] = tf.fill([2, 2, 6], 0.5);
      const shifted = backwardLower(p, rows, p.end, 0, base, pre, undefined, { terms }).arraySync() as number[][];
      expect(shifted.flat().some((v, k) => Math.abs(v - plain.flat()[k]) > 1e-4)).toBe(true);
    });
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });
});
