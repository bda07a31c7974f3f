import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, SeededRng } from '@certkd/core';
import { batches, batchCount } from './batching';
import { augmentImages } from './augment';
import { splitTrainValidation, subset, classCounts } from './split-ops';
import { makeSynthetic } from './synthetic';
import { Uint8Split } from './uint8-split';

const data = makeSynthetic({ n: 50, testN: 10, shape: [6, 5, 2], classes: 5, seed: 3 });

describe('batches', () => {
  it('yields NHWC float32 / int32 tensors in order without rng, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    for (const b of batches(data.train, { batchSize: 16 })) {
      expect(b.x.shape).toEqual([b.indices.length, 6, 5, 2]);
      expect(b.x.dtype).toBe('float32');
      expect(b.y.dtype).toBe('int32');
      expect(Array.from(b.y.dataSync())).toEqual(Array.from(b.indices).map((i) => data.train.labels()[i]));
      seen.push(...b.indices);
      tf.dispose([b.x, b.y]);
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('shuffles deterministically with the same seed, differently with another', () => {
    const order = (seed: number) => {
      const out: number[] = [];
      for (const b of batches(data.train, { batchSize: 16, rng: new SeededRng(seed), dropLast: true })) {
        out.push(...b.indices);
        tf.dispose([b.x, b.y]);
      }
      return out;
    };
    expect(order(7)).toEqual(order(7));
    expect(order(7)).not.toEqual(order(8));
    expect(order(7)).toHaveLength(48);
    expect(new Set(order(7)).size).toBe(48);
    expect(batchCount(50, 16, true)).toBe(3);
    expect(batchCount(50, 16)).toBe(4);
  });

  it('requires a generator for augmentation and rejects a bad batch size', () => {
    expect(() => batches(data.train, { batchSize: 4, augment: { cropPadding: 2, flip: true } }).next()).toThrow(ConfigError);
    expect(() => batches(data.train, { batchSize: 0 }).next()).toThrow(/batchSize/);
  });

  it('augments with a seed: same seed same pixels, shape kept', () => {
    const run = (seed: number) => {
      const b = batches(data.train, { batchSize: 8, augment: { cropPadding: 2, flip: true }, rngAug: new SeededRng(seed) }).next().value!;
      const x = b.x.arraySync();
      expect(b.x.shape).toEqual([8, 6, 5, 2]);
      tf.dispose([b.x, b.y]);
      return x;
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });
});

describe('augmentImages', () => {
  // one 3x4x1 image with values 1..12
  const img = Float32Array.from({ length: 12 }, (_, i) => i + 1);

  it('flips and shifts with zero fill, matching a reference crop', () => {
    const rng = new SeededRng(5);
    for (let t = 0; t < 20; t++) {
      const probe = new SeededRng(0);
      probe.setState(rng.getState());
      const dy = probe.int(5) - 2;
      const dx = probe.int(5) - 2;
      const flip = probe.next() < 0.5;
      const out = augmentImages(img, 1, [3, 4, 1], { cropPadding: 2, flip: true }, rng);
      for (let r = 0; r < 3; r++) {
        for (let q = 0; q < 4; q++) {
          const sc = (flip ? 3 - q : q) + dx;
          const sr = r + dy;
          const want = sr >= 0 && sr < 3 && sc >= 0 && sc < 4 ? img[sr * 4 + sc] : 0;
          expect(out[r * 4 + q]).toBe(want);
        }
      }
    }
  });

  it('with padding 0 and flip only, mirrors or keeps each image', () => {
    const out = augmentImages(img, 1, [3, 4, 1], { cropPadding: 0, flip: true }, new SeededRng(1));
    const mirrored = [4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9];
    expect([Array.from(img), mirrored]).toContainEqual(Array.from(out));
  });
});

describe('splits and subsets', () => {
  it('splitTrainValidation is a seeded partition by fraction or count', () => {
    const a = splitTrainValidation(data.train, 0.2, new SeededRng(1));
    const b = splitTrainValidation(data.train, 0.2, new SeededRng(1));
    expect(a.validation.size).toBe(10);
    expect(a.train.size).toBe(40);
    expect(a.validation.read([0, 3]).x).toEqual(b.validation.read([0, 3]).x);
    const c = splitTrainValidation(data.train, 7, new SeededRng(2));
    expect(c.validation.size).toBe(7);
    const all = [...(c.train as unknown as { indices: Int32Array }).indices, ...(c.validation as unknown as { indices: Int32Array }).indices].sort(
      (x, y) => x - y,
    );
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => splitTrainValidation(data.train, 50, new SeededRng(1))).toThrow(ConfigError);
    expect(() => splitTrainValidation(data.train, 1.5, new SeededRng(1))).toThrow(ConfigError);
  });

  it('subset takes the first n in order or after a seeded permutation, and can stratify', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 70 ? 0 : i < 90 ? 1 : 2));
    const s = new Uint8Split(new Uint8Array(100), labels, [1, 1, 1], 3);
    expect(Array.from(subset(s, 5).labels())).toEqual([0, 0, 0, 0, 0]);
    expect(classCounts(subset(s, 10, new SeededRng(4), { stratified: true }))).toEqual([7, 2, 1]);
    expect(classCounts(subset(s, 10, undefined, { stratified: true }))).toEqual([7, 2, 1]);
    expect(subset(s, 10, new SeededRng(4)).labels()).toEqual(subset(s, 10, new SeededRng(4)).labels());
    expect(() => subset(s, 101)).toThrow(ConfigError);
  });
});

describe('synthetic', () => {
  it('is deterministic and learnable: nearest class mean classifies the test split well', () => {
    const d = makeSynthetic({ n: 200, testN: 100, shape: [8, 8, 1], classes: 4, seed: 11 });
    expect(makeSynthetic({ n: 200, testN: 100, shape: [8, 8, 1], classes: 4, seed: 11 }).train.read([5]).x).toEqual(d.train.read([5]).x);
    const tr = d.train.read(Array.from({ length: 200 }, (_, i) => i));
    const means = Array.from({ length: 4 }, () => new Float64Array(64));
    const cnt = [0, 0, 0, 0];
    for (let i = 0; i < 200; i++) {
      cnt[tr.y[i]]++;
      for (let j = 0; j < 64; j++) means[tr.y[i]][j] += tr.x[i * 64 + j];
    }
    means.forEach((m, c) => m.forEach((_, j) => (m[j] /= cnt[c])));
    const te = d.test.read(Array.from({ length: 100 }, (_, i) => i));
    let correct = 0;
    for (let i = 0; i < 100; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let c = 0; c < 4; c++) {
        let dist = 0;
        for (let j = 0; j < 64; j++) dist += (te.x[i * 64 + j] - means[c][j]) ** 2;
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
      if (best === te.y[i]) correct++;
    }
    expect(correct).toBeGreaterThan(95);
    expect(cnt).toEqual([50, 50, 50, 50]);
  });
});
