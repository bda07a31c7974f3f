import * as fs from 'fs';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { ConfigError, DataError, createPluginContainer, pluginRegistry } from '@certkd/core';
import { loadCifar10 } from './cifar10';
import { encodeMat5 } from './mat5';
import { loadSvhn } from './svhn';
import { encodeNpy, encodeZip } from './npz';
import { loadImagenet64 } from './imagenet64';
import { loadTinyImagenet } from './tinyimagenet';
import { checkDataset } from './check';
import { encodeIdx } from './idx';
import { registerDatasets } from './plugins';
import { bytes, tempDir } from './__fixtures__/tmp';

let t: ReturnType<typeof tempDir>;
beforeEach(() => (t = tempDir()));
afterEach(() => t.cleanup());

function cifarBatch(n: number, seed: number): Uint8Array {
  const b = bytes(n * 3073, seed);
  for (let i = 0; i < n; i++) b[i * 3073] = i % 10;
  return b;
}

describe('CIFAR-10 binary batches', () => {
  const write = (dir: string) => {
    for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(dir, `data_batch_${i}.bin`), cifarBatch(4, i));
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarBatch(3, 9));
  };
  it('parses CHW records into HWC pixels with METHODS 9.2 constants', () => {
    write(t.dir);
    const d = loadCifar10(t.dir);
    expect(d.train.size).toBe(20);
    expect(d.test.size).toBe(3);
    expect(d.input.mean).toEqual([0.4914, 0.4822, 0.4465]);
    expect(d.augmentation).toEqual({ cropPadding: 2, flip: true });
    const raw = cifarBatch(3, 9);
    const { x, y } = d.test.read([2]);
    const rec = 2 * 3073;
    const p = 5 * 32 + 7; // row 5, column 7
    expect(y[0]).toBe(2);
    expect(Array.from(x.subarray(p * 3, p * 3 + 3))).toEqual(
      [raw[rec + 1 + p], raw[rec + 1 + 1024 + p], raw[rec + 1 + 2048 + p]].map((v) => Math.fround(v / 255)),
    );
  });
  it('names truncated batches, bad labels and missing files', () => {
    write(t.dir);
    fs.writeFileSync(path.join(t.dir, 'data_batch_3.bin'), cifarBatch(4, 3).subarray(0, 3 * 3073 + 100));
    expect(() => loadCifar10(t.dir)).toThrow(/data_batch_3\.bin: truncated or corrupted CIFAR-10 batch: .*3 whole records and 100 bytes left over/);
    const bad = cifarBatch(4, 3);
    bad[3073] = 11;
    fs.writeFileSync(path.join(t.dir, 'data_batch_3.bin'), bad);
    expect(() => loadCifar10(t.dir)).toThrow(/record 1 has label 11/);
    fs.unlinkSync(path.join(t.dir, 'test_batch.bin'));
    expect(() => loadCifar10(t.dir)).toThrow(/missing file: none of test_batch\.bin/);
  });
});

describe('SVHN MATLAB v5 files', () => {
  const svhn = (n: number, seed: number, compress: boolean, labelOverride?: number[]) => {
    const X = bytes(32 * 32 * 3 * n, seed);
    const y = Float64Array.from(labelOverride ?? Array.from({ length: n }, (_, i) => (i % 10) + 1));
    return {
      X,
      bytes: encodeMat5(
        [
          { name: 'X', dims: [32, 32, 3, n], data: X },
          { name: 'y', dims: [y.length, 1], data: y },
        ],
        compress,
      ),
    };
  };
  it('reads compressed and plain files, column-major X, label 10 as digit 0', () => {
    const tr = svhn(12, 1, true);
    fs.writeFileSync(path.join(t.dir, 'train_32x32.mat'), tr.bytes);
    fs.writeFileSync(path.join(t.dir, 'test_32x32.mat'), svhn(10, 2, false).bytes);
    const d = loadSvhn(t.dir);
    expect(d.train.size).toBe(12);
    expect(d.test.size).toBe(10);
    expect(Array.from(d.train.labels())).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
    const { x } = d.train.read([3]);
    const [r, c, ch] = [4, 9, 2];
    expect(x[(r * 32 + c) * 3 + ch]).toBeCloseTo(tr.X[r + 32 * c + 1024 * ch + 3072 * 3] / 255, 6);
  });
  it('rejects count mismatches, bad labels, truncation and v7.3 files', () => {
    fs.writeFileSync(path.join(t.dir, 'test_32x32.mat'), svhn(4, 2, false).bytes);
    fs.writeFileSync(path.join(t.dir, 'train_32x32.mat'), svhn(4, 1, false, [1, 2, 3]).bytes);
    expect(() => loadSvhn(t.dir)).toThrow(/train_32x32\.mat: 4 images in X but y has dimensions \[3, 1\]/);
    fs.writeFileSync(path.join(t.dir, 'train_32x32.mat'), svhn(4, 1, false, [1, 2, 3, 11]).bytes);
    expect(() => loadSvhn(t.dir)).toThrow(/y\(4\) = 11 is outside 1\.\.10/);
    fs.writeFileSync(path.join(t.dir, 'train_32x32.mat'), svhn(4, 1, false).bytes.subarray(0, 3000));
    expect(() => loadSvhn(t.dir)).toThrow(/train_32x32\.mat: truncated MAT file/);
    const v73 = Buffer.alloc(600);
    v73.write('MATLAB 7.3 MAT-file', 0);
    fs.writeFileSync(path.join(t.dir, 'train_32x32.mat'), v73);
    expect(() => loadSvhn(t.dir)).toThrow(/v7\.3 \(HDF5\) files are not supported/);
  });
});

describe('ImageNet 64x64 npz batches', () => {
  const npz = (n: number, seed: number, deflate: boolean, labels?: number[]) => {
    const data = bytes(n * 12288, seed);
    const lab = BigInt64Array.from((labels ?? Array.from({ length: n }, (_, i) => i + 1)).map(BigInt));
    return {
      data,
      zip: encodeZip(
        [
          { name: 'data.npy', data: encodeNpy([n, 12288], data) },
          { name: 'labels.npy', data: encodeNpy([lab.length], lab) },
        ],
        deflate,
      ),
    };
  };
  it('reads stored and deflated archives (deflated through the cache), labels 1-based', async () => {
    const b1 = npz(3, 1, false);
    fs.writeFileSync(path.join(t.dir, 'train_data_batch_1.npz'), b1.zip);
    fs.writeFileSync(path.join(t.dir, 'train_data_batch_2.npz'), npz(2, 2, true).zip);
    const val = npz(2, 3, true, [1000, 7]);
    fs.writeFileSync(path.join(t.dir, 'val_data.npz'), val.zip);
    const cacheDir = path.join(t.dir, 'cache');
    const d = await loadImagenet64(t.dir, { cacheDir });
    expect(d.train.size).toBe(5);
    expect(Array.from(d.train.labels())).toEqual([0, 1, 2, 0, 1]);
    expect(Array.from(d.test.labels())).toEqual([999, 6]);
    const { x } = d.train.read([2]);
    const p = 10 * 64 + 33;
    expect(x[p * 3 + 1]).toBeCloseTo(b1.data[2 * 12288 + 4096 + p] / 255, 6);
    const tx = d.test.read([1]).x;
    expect(tx[p * 3 + 2]).toBeCloseTo(val.data[12288 + 8192 + p] / 255, 6);
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.npy'))).toHaveLength(2);
  });
  it('rejects truncated archives and label count mismatches', async () => {
    fs.writeFileSync(path.join(t.dir, 'train_data_batch_1.npz'), npz(3, 1, false, [1, 2]).zip);
    fs.writeFileSync(path.join(t.dir, 'val_data.npz'), npz(1, 1, false).zip);
    await expect(loadImagenet64(t.dir, { cacheDir: t.dir })).rejects.toThrow(/train_data_batch_1\.npz: 3 images in 'data' but 2 labels/);
    fs.writeFileSync(path.join(t.dir, 'train_data_batch_1.npz'), npz(3, 1, false).zip.subarray(0, 5000));
    await expect(loadImagenet64(t.dir, { cacheDir: t.dir })).rejects.toThrow(/train_data_batch_1\.npz: not a zip\/npz archive or truncated/);
  });
});

describe('TinyImageNet folders', () => {
  const jpg = (seed: number) => {
    const rgba = bytes(64 * 64 * 4, seed);
    return jpeg.encode({ width: 64, height: 64, data: Buffer.from(rgba) }, 95).data;
  };
  const build = (root: string) => {
    const wnids = ['n001', 'n002'];
    fs.writeFileSync(path.join(root, 'wnids.txt'), wnids.join('\n') + '\n');
    wnids.forEach((w, c) => {
      const dir = path.join(root, 'train', w, 'images');
      fs.mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(dir, `${w}_${i}.JPEG`), jpg(10 * c + i));
    });
    fs.mkdirSync(path.join(root, 'val', 'images'), { recursive: true });
    fs.writeFileSync(path.join(root, 'val', 'images', 'val_0.JPEG'), jpg(50));
    fs.writeFileSync(path.join(root, 'val', 'images', 'val_1.JPEG'), jpg(51));
    fs.writeFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn002\t0\t0\t63\t63\nval_1.JPEG\tn001\t0\t0\t63\t63\n');
  };
  it('decodes lazily, caches shards and re-decodes a shard whose file changed', () => {
    build(t.dir);
    const cacheDir = path.join(t.dir, 'cache');
    const d = loadTinyImagenet(t.dir, { cacheDir, shardSize: 2 });
    expect(d.train.size).toBe(6);
    expect(Array.from(d.test.labels())).toEqual([1, 0]);
    const first = d.train.read([4, 1]);
    expect(first.x.length).toBe(2 * 12288);
    expect(Array.from(first.y)).toEqual([1, 0]);
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.u8'))).toHaveLength(2);
    const uncached = loadTinyImagenet(t.dir).train.read([4, 1]);
    expect(uncached.x).toEqual(first.x);
    // replace an image: a fresh load sees the new pixels through the invalidated shard
    const f = path.join(t.dir, 'train', 'n002', 'images', 'n002_1.JPEG');
    fs.writeFileSync(f, jpg(99));
    fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
    const again = loadTinyImagenet(t.dir, { cacheDir, shardSize: 2 }).train.read([4]);
    expect(again.x).not.toEqual(first.x.subarray(0, 12288));
    expect(again.x).toEqual(loadTinyImagenet(t.dir).train.read([4]).x);
  });
  it('names unreadable images and missing folders', async () => {
    build(t.dir);
    fs.writeFileSync(path.join(t.dir, 'train', 'n001', 'images', 'n001_2.JPEG'), Buffer.from('not a jpeg'));
    const d = loadTinyImagenet(t.dir);
    expect(() => d.train.read([2])).toThrow(/n001_2\.JPEG: unreadable JPEG/);
    const report = await checkDataset(t.dir, 'tinyimagenet', { deep: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.splits.train.perClass).toEqual([3, 3]);
    fs.rmSync(path.join(t.dir, 'train', 'n002'), { recursive: true });
    expect(() => loadTinyImagenet(t.dir)).toThrow(/n002[/\\]images: TinyImageNet train class n002 folder does not exist/);
  });
});

describe('checkDataset', () => {
  it('reports counts per class and every problem, not just the first', async () => {
    const w = (name: string, d: Uint8Array) => fs.writeFileSync(path.join(t.dir, name), d);
    w('train-images-idx3-ubyte', encodeIdx(0x08, [6, 28, 28], bytes(6 * 784)));
    w('train-labels-idx1-ubyte', encodeIdx(0x08, [5], [0, 1, 1, 2, 2]));
    w('t10k-images-idx3-ubyte', encodeIdx(0x08, [2, 28, 28], bytes(2 * 784)).subarray(0, 100));
    w('t10k-labels-idx1-ubyte', encodeIdx(0x08, [2], [3, 3]));
    const r = await checkDataset(t.dir, 'mnist');
    expect(r.ok).toBe(false);
    expect(r.splits.train.perClass.slice(0, 3)).toEqual([1, 2, 2]);
    expect(r.splits.test.count).toBe(2);
    expect(r.problems).toHaveLength(2);
    expect(r.problems.join('\n')).toMatch(/6 images but 5 labels/);
    expect(r.problems.join('\n')).toMatch(/t10k-images-idx3-ubyte: truncated IDX file/);
    const missing = await checkDataset(path.join(t.dir, 'none'), 'cifar10');
    expect(missing.ok).toBe(false);
    expect(missing.problems[0]).toMatch(/cifar10 folder does not exist/);
    await expect(checkDataset(t.dir, 'nope')).rejects.toThrow(ConfigError);
  });
});

describe('registerDatasets', () => {
  it('registers the seven dataset plugins; options are validated', async () => {
    const regPlugins = createPluginContainer();
    registerDatasets(regPlugins);
    const reg = pluginRegistry(regPlugins);
    expect(reg.names('dataset')).toEqual(['cifar10', 'fashion-mnist', 'imagenet64', 'mnist', 'svhn', 'synthetic', 'tinyimagenet']);
    const src = reg.create('dataset', 'synthetic', { n: 20, shape: [4, 4, 3], classes: 2, seed: 1 });
    const d = await src.load({});
    expect(d.input.shape).toEqual([4, 4, 3]);
    expect(d.train.size).toBe(20);
    expect(() => reg.create('dataset', 'mnist', { bogus: 1 })).toThrow(ConfigError);
    await expect(reg.create('dataset', 'cifar10').load({})).rejects.toThrow(/dataset\.root/);
    await expect(reg.create('dataset', 'svhn').load({ root: path.join(t.dir, 'x') })).rejects.toThrow(DataError);
  });
});
