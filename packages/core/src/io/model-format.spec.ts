import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, saveModel } from './model-format';
import { Network } from '../network/network';
import { ARCHITECTURES, architectureOptions } from '../network/architectures';
import { SeededRng } from '../rng/seeded-rng';
import { ModelFormatError } from '../errors/errors';
import '../index';

const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small')!.build(
  { shape: [12, 12, 1], classes: 3, mean: [0.5], std: [0.25] },
  architectureOptions.parse({}),
);

describe('model format', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-model-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const saved = () => {
    const net = Network.create(spec, new SeededRng(9));
    const out = path.join(dir, 'm');
    saveModel(net, out, { dataset: 'synthetic', eps: 0.1 });
    return { net, out };
  };

  it('round-trips parameters, outputs and metadata exactly', () => {
    const { net, out } = saved();
    const { network, metadata } = loadModel(out);
    expect(metadata).toEqual({ dataset: 'synthetic', eps: 0.1 });
    const x = tf.randomUniform([3, 12, 12, 1], 0, 1, 'float32', 3);
    expect(Array.from(network.predict(x).dataSync())).toEqual(Array.from(net.predict(x).dataSync()));
    for (const [k, v] of net.namedParams()) {
      expect(
        Array.from(
          network
            .namedParams()
            .find(([n]) => n === k)![1]
            .dataSync(),
        ),
      ).toEqual(Array.from(v.dataSync()));
    }
  });

  // The parts of model.json the tests damage.
  type ModelJson = { weightsManifest: { paths: string[]; weights: { shape: number[]; dtype: string }[] }[]; architecture: { layers: { kind: string }[] } };
  const corrupt = (edit: (json: ModelJson, out: string) => void) => {
    const { out } = saved();
    const file = path.join(out, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    edit(json, out);
    fs.writeFileSync(file, JSON.stringify(json));
    return out;
  };

  it('rejects a truncated weights file naming it', () => {
    const { out } = saved();
    const w = path.join(out, 'weights.bin');
    fs.truncateSync(w, fs.statSync(w).size - 4);
    expect(() => loadModel(out)).toThrow(ModelFormatError);
    expect(() => loadModel(out)).toThrow(/weights.bin.*bytes but the manifest describes/);
  });

  it('rejects a weights path that leaves the directory', () => {
    const out = corrupt((j) => (j.weightsManifest[0].paths = ['../../etc/passwd']));
    expect(() => loadModel(out)).toThrow(/leaves the model directory/);
    const abs = corrupt((j) => (j.weightsManifest[0].paths = ['/etc/passwd']));
    expect(() => loadModel(abs)).toThrow(/leaves the model directory/);
  });

  it('rejects wrong shapes, dtypes, unknown layers and bad JSON', () => {
    expect(() => loadModel(corrupt((j) => (j.weightsManifest[0].weights[0].shape = [4, 4, 1, 15])))).toThrow(/needs \[4,4,1,16\]|bytes/);
    expect(() => loadModel(corrupt((j) => (j.weightsManifest[0].weights[0].dtype = 'int32')))).toThrow(/dtype 'int32'/);
    expect(() => loadModel(corrupt((j) => (j.architecture.layers[1].kind = 'maxpool')))).toThrow(/architecture\.layers\.1/);
    const { out } = saved();
    fs.writeFileSync(path.join(out, 'model.json'), '{"format": ');
    expect(() => loadModel(out)).toThrow(/not valid JSON/);
    expect(() => loadModel(path.join(dir, 'missing'))).toThrow(/model.json not found/);
  });

  it('swapped weights with matching byte length are caught by shape checks', () => {
    const out = corrupt((j) => {
      const w = j.weightsManifest[0].weights;
      [w[0].shape, w[1].shape] = [w[1].shape, w[0].shape];
    });
    expect(() => loadModel(out)).toThrow(ModelFormatError);
  });

  it('a 2 GiB weights file is refused from its size, before it is read', () => {
    const { out } = saved();
    const w = path.join(out, 'weights.bin');
    fs.truncateSync(w, 2 ** 31); // sparse: no disk space used
    const t0 = Date.now();
    expect(() => loadModel(out)).toThrow(new ModelFormatError(`weights hold ${2 ** 31} bytes but the manifest describes ${need(out)}`, w));
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('huge declared shapes are refused before anything is allocated', () => {
    const out = corrupt((j) => (j.weightsManifest[0].weights[0].shape = [2 ** 20, 2 ** 20, 16]));
    expect(() => loadModel(out)).toThrow(/model.json: the manifest describes 703687442\d{5} bytes of weights; at most 2147483647 are supported/);
  });

  it('NaN and Inf weights are refused naming the weights file and the tensor', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const { out } = saved();
      const w = path.join(out, 'weights.bin');
      const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
      const first = json.weightsManifest[0].weights[0];
      const size = first.shape.reduce((a: number, b: number) => a * b, 1);
      const second = json.weightsManifest[0].weights[1].name;
      const bytes = fs.readFileSync(w);
      bytes.writeFloatLE(bad, 4 * (size + 2)); // third value of the second tensor
      fs.writeFileSync(w, bytes);
      expect(() => loadModel(out)).toThrow(new ModelFormatError(`weight '${second}' holds ${bad} at index 2; weights must be finite`, w));
      fs.rmSync(out, { recursive: true });
    }
  });

  it('a weights path that is a directory, or a symbolic link out of the directory, is refused', () => {
    const dirPath = corrupt((j) => (j.weightsManifest[0].paths = ['sub']));
    fs.mkdirSync(path.join(dirPath, 'sub'));
    expect(() => loadModel(dirPath)).toThrow(/weights file 'sub' is not a regular file/);
    fs.rmSync(dirPath, { recursive: true });
    const { out } = saved();
    const outside = path.join(dir, 'outside.bin');
    fs.renameSync(path.join(out, 'weights.bin'), outside);
    fs.symlinkSync(outside, path.join(out, 'weights.bin'));
    expect(() => loadModel(out)).toThrow(/weights path 'weights.bin' leaves the model directory \(through a symbolic link\)/);
  });

  it('a model.json that is a directory is refused with a message', () => {
    const m = path.join(dir, 'odd');
    fs.mkdirSync(path.join(m, 'model.json'), { recursive: true });
    expect(() => loadModel(m)).toThrow(new ModelFormatError('model.json is not a regular file', path.join(m, 'model.json')));
  });
});

/** Bytes of weights the manifest of model directory `out` describes. */
function need(out: string): number {
  const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
  return json.weightsManifest[0].weights.reduce((n: number, w: { shape: number[] }) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
}
