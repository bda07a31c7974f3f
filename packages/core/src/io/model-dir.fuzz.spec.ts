import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, saveModel } from './model-format';
import { Network } from '../network/network';
import { ARCHITECTURES, architectureOptions } from '../network/architectures';
import { SeededRng } from '../rng/seeded-rng';
import { CertkdError } from '../errors/errors';
import '../index';

// Seeded fuzzing of model directories: every mutant must load or fail with a CertkdError of
// exit code 2 and a one-line message, quickly, without reading or allocating what a corrupt
// model.json declares. CERTKD_FUZZ_SEED explores other seeds.

const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 7);
const MUTANTS = 300;
const MAX_MS_PER_INPUT = 1500;

const spec = ARCHITECTURES.find((a) => a.name === 'cnn-small')!.build(
  { shape: [10, 10, 1], classes: 3, mean: [0.5], std: [0.25] },
  architectureOptions.parse({ hidden: [8], batchnorm: true }),
);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One random edit of model.json and/or weights.bin, described. */
function mutate(json: Json, weights: Buffer, rng: SeededRng): { json: Json | string; weights: Buffer; kind: string } {
  const w = json.weightsManifest[0].weights;
  const entry = () => w[rng.int(w.length)];
  const k = rng.int(15);
  switch (k) {
    case 0:
      return { json, weights: weights.subarray(0, rng.int(weights.length)), kind: 'truncated weights' };
    case 1:
      return { json, weights: Buffer.concat([weights, Buffer.alloc(1 + rng.int(64))]), kind: 'extra weight bytes' };
    case 2: {
      const b = Buffer.from(weights);
      b.writeFloatLE([NaN, Infinity, -Infinity][rng.int(3)], 4 * rng.int(b.length / 4));
      return { json, weights: b, kind: 'non-finite weight' };
    }
    case 3: {
      const e = entry();
      e.shape = e.shape.map((d: number) => d + rng.int(3) - 1);
      return { json, weights, kind: 'shape off by one' };
    }
    case 4: {
      entry().shape = [2 ** (16 + rng.int(16)), 2 ** (8 + rng.int(16))];
      return { json, weights, kind: 'huge declared shape' };
    }
    case 5: {
      entry().shape = [rng.next() < 0.5 ? -1 : 1.5, 4];
      return { json, weights, kind: 'invalid shape' };
    }
    case 6:
      entry().dtype = ['int32', 'float16', 'float64', ''][rng.int(4)];
      return { json, weights, kind: 'dtype' };
    case 7:
      json.weightsManifest[0].paths = [['../outside.bin', '/etc/passwd', 'sub/../../x', '', 'link.bin', '.'][rng.int(6)]];
      return { json, weights, kind: 'weights path' };
    case 8: {
      const [i, j] = [rng.int(w.length), rng.int(w.length)];
      [w[i], w[j]] = [w[j], w[i]];
      return { json, weights, kind: 'manifest order' };
    }
    case 9: {
      const layers = json.architecture.layers;
      const l = layers[rng.int(layers.length)];
      const keys = Object.keys(l);
      const key = keys[rng.int(keys.length)];
      l[key] = [null, -1, 0, 1e9, 'x', [], {}, [1e9, 1e9]][rng.int(8)];
      return { json, weights, kind: `architecture field ${key}` };
    }
    case 10:
      json.architecture.inputShape = [
        [1e6, 1e6, 3],
        [0, 10, 1],
        [10, 10],
        [-10, 10, 1],
      ][rng.int(4)];
      return { json, weights, kind: 'input shape' };
    case 11: {
      const top = ['format', 'formatVersion', 'architecture', 'weightsManifest', 'metadata'][rng.int(5)];
      delete json[top];
      return { json, weights, kind: `missing ${top}` };
    }
    case 12: {
      const text = JSON.stringify(json);
      return { json: text.slice(0, rng.int(text.length)), weights, kind: 'truncated model.json' };
    }
    case 13:
      // Harmless: must still load (so the loader is not refusing everything).
      json.metadata = { note: 'x'.repeat(rng.int(100)), eps: rng.next() };
      return { json, weights, kind: 'metadata' };
    default: {
      // Byte-level damage of model.json: flipped bits and stray bytes.
      const b = Buffer.from(JSON.stringify(json));
      for (let n = 1 + rng.int(4); n > 0; n--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return { json: b.toString('latin1'), weights, kind: 'model.json bit flips' };
    }
  }
}

describe('model directory fuzzing', () => {
  let root: string;
  beforeAll(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-mdfuzz-'))));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it(`${MUTANTS} mutated model directories load or fail with a one-line exit-2 error`, () => {
    const base = path.join(root, 'base');
    const net = Network.create(spec, new SeededRng(3));
    saveModel(net, base);
    net.dispose();
    const baseJson = fs.readFileSync(path.join(base, 'model.json'), 'utf8');
    const baseWeights = fs.readFileSync(path.join(base, 'weights.bin'));
    // A file outside every mutant directory, and a symbolic-link target pointing at it.
    fs.writeFileSync(path.join(root, 'outside.bin'), baseWeights);
    const before = tf.memory().numTensors;
    const rng = new SeededRng(SEED);
    const tally = { loaded: 0, refused: 0, slowest: 0, bad: [] as string[] };
    for (let i = 0; i < MUTANTS; i++) {
      const dir = path.join(root, `m${i}`);
      fs.mkdirSync(dir);
      fs.symlinkSync(path.join(root, 'outside.bin'), path.join(dir, 'link.bin'));
      const m = mutate(JSON.parse(baseJson), baseWeights, rng);
      fs.writeFileSync(path.join(dir, 'model.json'), typeof m.json === 'string' ? m.json : JSON.stringify(m.json));
      fs.writeFileSync(path.join(dir, 'weights.bin'), m.weights);
      const label = `#${i} ${m.kind}`;
      const t0 = performance.now();
      try {
        loadModel(dir).network.dispose();
        tally.loaded++;
      } catch (e) {
        if (!(e instanceof CertkdError)) tally.bad.push(`${label}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
        else if (e.exitCode !== 2) tally.bad.push(`${label}: exit code ${e.exitCode}`);
        else if (/[\r\n]/.test(e.message)) tally.bad.push(`${label}: message is not one line: ${JSON.stringify(e.message)}`);
        else tally.refused++;
      }
      const ms = performance.now() - t0;
      tally.slowest = Math.max(tally.slowest, ms);
      if (ms > MAX_MS_PER_INPUT) tally.bad.push(`${label}: took ${ms.toFixed(0)} ms`);
      fs.rmSync(dir, { recursive: true });
    }
    if (process.env.CERTKD_REPORT) console.log('model directory mutants', tally); // eslint-disable-line no-console
    expect(tally.bad).toEqual([]);
    expect(tally.refused).toBeGreaterThan(MUTANTS / 2);
    expect(tally.loaded).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(fs.readdirSync(root).sort()).toEqual(['base', 'outside.bin']);
  });
});
