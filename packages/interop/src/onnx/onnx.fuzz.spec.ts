import * as tf from '@tensorflow/tfjs-core';
import { onnx } from 'onnx-proto';
import { CertkdError, SeededRng } from '@certkd/core';
import { importOnnxModel } from './onnx-import';
import { exportOnnx } from './onnx-export';
import { build, makeNet } from '../test-util/nets';

// Seeded fuzzing of the ONNX importer: mutated protobuf bytes and edited graphs must end
// quickly with a model or a CertkdError of exit code 2 and a one-line message; never another
// exception type, a hang or a huge allocation. Set CERTKD_FUZZ_SEED to explore other seeds.

const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 20240611);
const BYTE_MUTANTS = 600;
const GRAPH_MUTANTS = 400;
/** Generous: a small model imports in a few ms; seconds would mean a loop over declared sizes. */
const MAX_MS_PER_INPUT = 1500;

type Outcome = 'parsed' | 'refused';

interface Tally {
  parsed: number;
  refused: number;
  slowest: number;
  bad: string[];
}

/** Import `bytes` and classify the result; anything but a parsed model or a one-line exit-2 CertkdError is recorded as bad. */
function check(bytes: Uint8Array, label: string, tally: Tally): Outcome | undefined {
  const t0 = performance.now();
  let outcome: Outcome | undefined;
  try {
    importOnnxModel(bytes, 'fuzz.onnx').network.dispose();
    outcome = 'parsed';
  } catch (e) {
    if (!(e instanceof CertkdError)) tally.bad.push(`${label}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    else if (e.exitCode !== 2) tally.bad.push(`${label}: exit code ${e.exitCode}: ${e.message}`);
    else if (/[\r\n]/.test(e.message) || e.message.length === 0) tally.bad.push(`${label}: message is not one line: ${JSON.stringify(e.message)}`);
    else outcome = 'refused';
  }
  const ms = performance.now() - t0;
  tally.slowest = Math.max(tally.slowest, ms);
  if (ms > MAX_MS_PER_INPUT) tally.bad.push(`${label}: took ${ms.toFixed(0)} ms`);
  if (outcome) tally[outcome]++;
  return outcome;
}

/** Offsets and byte lengths of every length-delimited field's length varint, in nested messages too. */
function lengthVarints(buf: Uint8Array): { at: number; size: number }[] {
  const found: { at: number; size: number }[] = [];
  const varint = (p: number): [number, number] | undefined => {
    let v = 0;
    for (let k = 0; k < 10 && p + k < buf.length; k++) {
      v += (buf[p + k] & 0x7f) * 2 ** (7 * k);
      if (!(buf[p + k] & 0x80)) return [v, k + 1];
    }
    return undefined;
  };
  /** Walk [start, end) as a message; false when it is not one (then nothing found inside counts). */
  const walk = (start: number, end: number, depth: number): boolean => {
    const mark = found.length;
    let p = start;
    while (p < end) {
      const key = varint(p);
      if (!key || key[0] === 0) return ((found.length = mark), false);
      p += key[1];
      const wire = key[0] % 8;
      if (wire === 0) {
        const v = varint(p);
        if (!v) return ((found.length = mark), false);
        p += v[1];
      } else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const len = varint(p);
        if (!len || p + len[1] + len[0] > end) return ((found.length = mark), false);
        found.push({ at: p, size: len[1] });
        p += len[1];
        if (depth < 6) walk(p, p + len[0], depth + 1);
        p += len[0];
      } else return ((found.length = mark), false);
    }
    return p === end || ((found.length = mark), false);
  };
  walk(0, buf.length, 0);
  return found;
}

/** A varint of `v` padded to exactly `size` bytes (protobuf accepts over-long varints). */
function paddedVarint(v: number, size: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < size; k++) {
    const b = Math.floor(v / 2 ** (7 * k)) & 0x7f;
    out.push(k < size - 1 ? b | 0x80 : b);
  }
  return out;
}

function mutateBytes(base: Uint8Array, rng: SeededRng, varints: { at: number; size: number }[]): { bytes: Uint8Array; kind: string } {
  const b = Array.from(base);
  const kind = ['flip', 'truncate', 'insert', 'delete', 'varint', 'varint', 'splice'][rng.int(7)];
  const pos = () => rng.int(b.length);
  switch (kind) {
    case 'flip':
      for (let n = 1 + rng.int(8); n > 0; n--) b[pos()] ^= 1 << rng.int(8);
      break;
    case 'truncate':
      b.length = rng.int(b.length);
      break;
    case 'insert':
      b.splice(pos(), 0, ...Array.from({ length: 1 + rng.int(6) }, () => rng.int(256)));
      break;
    case 'delete':
      b.splice(pos(), 1 + rng.int(6));
      break;
    case 'varint': {
      // Rewrite a length prefix: off by a little, zero, or huge (up to what its byte count holds, or beyond).
      const { at, size } = varints[rng.int(varints.length)];
      const old = base.slice(at, at + size).reduce((v, x, k) => v + (x & 0x7f) * 2 ** (7 * k), 0);
      const choice = rng.int(4);
      const v = choice === 0 ? 0 : choice === 1 ? Math.max(0, old + rng.int(9) - 4) : choice === 2 ? 2 ** (7 * size) - 1 : 2 ** 31 + rng.int(1000);
      b.splice(at, size, ...paddedVarint(v, choice === 3 ? 5 : size));
      break;
    }
    case 'splice': {
      // Copy a chunk of the model over another place (plausible-looking but misplaced fields).
      const from = pos();
      const len = 1 + rng.int(32);
      b.splice(pos(), len, ...b.slice(from, from + len));
      break;
    }
  }
  return { bytes: Uint8Array.from(b), kind };
}

const OPS = [
  'Gemm',
  'MatMul',
  'Conv',
  'Relu',
  'Flatten',
  'Reshape',
  'Transpose',
  'AveragePool',
  'BatchNormalization',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Identity',
  'Dropout',
  'Constant',
  'Shape',
  'Gather',
  'Concat',
  'Softmax',
  'MaxPool',
  'LSTM',
  '',
];

/** The parts of a decoded graph that editGraph touches (decoded messages always have their arrays). */
interface Graph {
  node: { opType: string; input: string[]; output: string[]; attribute: onnx.IAttributeProto[] }[];
  initializer: { dims: number[]; rawData: Uint8Array; dataType: number }[];
  input: { type: { tensorType: { shape: { dim: { dimParam: string; dimValue: number }[] } } } }[];
}

/** A structural edit of a decoded model (returns a description). */
function editGraph(m: onnx.ModelProto, rng: SeededRng): string {
  const g = m.graph as unknown as Graph;
  const node = () => g.node[rng.int(g.node.length)];
  const init = () => g.initializer[rng.int(g.initializer.length)];
  const kind = rng.int(12);
  switch (kind) {
    case 0: {
      const n = node();
      n.opType = OPS[rng.int(OPS.length)];
      return `op type ${n.opType}`;
    }
    case 1: {
      const n = node();
      if (n.input.length) n.input[rng.int(n.input.length)] = rng.next() < 0.5 ? 'dangling' : g.node[rng.int(g.node.length)].output[0];
      return 'dangling or reordered input';
    }
    case 2: {
      const t = init();
      t.dims = t.dims.map((d) => Number(d) + rng.int(3) - 1);
      return 'initializer dims off by one';
    }
    case 3: {
      const t = init();
      t.dims = [2 ** (20 + rng.int(20)), 2 ** (10 + rng.int(20))];
      return 'huge initializer dims';
    }
    case 4: {
      const t = init();
      const raw = Buffer.from(t.rawData);
      if (raw.length >= 4) raw.writeFloatLE([NaN, Infinity, -Infinity][rng.int(3)], 4 * rng.int(raw.length / 4));
      t.rawData = raw;
      return 'non-finite weight';
    }
    case 5: {
      const t = init();
      t.rawData = t.rawData.slice(0, rng.int(t.rawData.length));
      return 'short initializer data';
    }
    case 6: {
      const t = init();
      t.dataType = rng.int(17);
      return `initializer data type ${t.dataType}`;
    }
    case 7: {
      const dims = g.input[0].type.tensorType.shape.dim;
      const d = dims[rng.int(dims.length)];
      d.dimParam = '';
      d.dimValue = [0, -3, 1, 7, 100000, 2 ** 40][rng.int(6)];
      return `input dim ${d.dimValue}`;
    }
    case 8: {
      const n = node();
      const name = ['pads', 'strides', 'kernel_shape', 'dilations', 'perm', 'axis', 'epsilon', 'group', 'transB', 'alpha'][rng.int(10)];
      const ints = Array.from({ length: rng.int(5) }, () => [0, -1, 1, 2, 3, 1e5, 2 ** 31][rng.int(7)]);
      n.attribute = n.attribute.filter((a) => a.name !== name);
      n.attribute.push(onnx.AttributeProto.create({ name, type: rng.next() < 0.5 ? 7 : 2, ints, i: ints[0] ?? 0, f: [-1, NaN, 0, 1e30][rng.int(4)] }));
      return `attribute ${name}`;
    }
    case 9: {
      const i = rng.int(g.node.length);
      const j = rng.int(g.node.length);
      [g.node[i], g.node[j]] = [g.node[j], g.node[i]];
      return 'nodes swapped';
    }
    case 10: {
      g.node.splice(rng.int(g.node.length), 1);
      return 'node removed';
    }
    default: {
      g.initializer.splice(rng.int(g.initializer.length), 1);
      return 'initializer removed';
    }
  }
}

/** A BatchNormalization that the exporter keeps as a node (not folded): input -> BN -> Gemm. */
function batchNormModel(): Uint8Array {
  const f32 = (name: string, dims: number[], vals: number[]): onnx.ITensorProto => ({
    name,
    dims,
    dataType: 1,
    rawData: new Uint8Array(Float32Array.from(vals).buffer),
  });
  const vi = (name: string, dims: number[]): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'bn',
      node: [
        { opType: 'BatchNormalization', name: 'bn', input: ['x', 'g', 'b', 'mu', 'var'], output: ['h'], attribute: [{ name: 'epsilon', type: 1, f: 1e-5 }] },
        { opType: 'Relu', name: 'r', input: ['h'], output: ['h2'] },
        { opType: 'Flatten', name: 'f', input: ['h2'], output: ['h3'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
        { opType: 'Gemm', name: 'fc', input: ['h3', 'W', 'c'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
      ],
      initializer: [
        f32('g', [2], [1, 2]),
        f32('b', [2], [0, 1]),
        f32('mu', [2], [0.5, 0.5]),
        f32('var', [2], [1, 0.25]),
        f32(
          'W',
          [3, 8],
          Array.from({ length: 24 }, (_, i) => i / 24),
        ),
        f32('c', [3], [0, 0, 1]),
      ],
      input: [vi('x', [1, 2, 2, 2])],
      output: [vi('y', [1, 3])],
    },
  }).finish();
}

describe('ONNX import fuzzing', () => {
  const bases: [string, Uint8Array][] = [];
  beforeAll(() => {
    for (const [name, arch, shape] of [
      ['mlp', 'mlp', [4, 4, 1]],
      ['cnn', 'cnn-small', [10, 10, 1]],
    ] as const) {
      const net = makeNet(build(arch, [...shape], { hidden: [8] }, 3), 11);
      bases.push([name, exportOnnx(net, { batch: 'dynamic' })]);
      net.dispose();
    }
    bases.push(['bn', batchNormModel()]);
  });

  it('the base models import (control)', () => {
    const tally: Tally = { parsed: 0, refused: 0, slowest: 0, bad: [] };
    for (const [name, bytes] of bases) check(bytes, name, tally);
    expect(tally).toMatchObject({ parsed: bases.length, bad: [] });
  });

  it(`${BYTE_MUTANTS} mutated byte strings (bit flips, truncations, insertions, length-prefix corruption) end in a model or a one-line exit-2 error`, () => {
    const before = tf.memory().numTensors;
    const rng = new SeededRng(SEED);
    const tally: Tally = { parsed: 0, refused: 0, slowest: 0, bad: [] };
    const kinds: Record<string, number> = {};
    for (let i = 0; i < BYTE_MUTANTS; i++) {
      const [name, base] = bases[i % bases.length];
      const { bytes, kind } = mutateBytes(base, rng, lengthVarints(base));
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      check(bytes, `#${i} ${name} ${kind}`, tally);
    }
    expect(tally.bad).toEqual([]);
    // The mutations must exercise both outcomes, and the length-prefix walker must have found prefixes.
    expect(tally.refused).toBeGreaterThan(BYTE_MUTANTS / 4);
    expect(tally.parsed).toBeGreaterThan(0);
    expect(kinds.varint).toBeGreaterThan(BYTE_MUTANTS / 10);
    expect(tf.memory().numTensors).toBe(before);
    if (process.env.CERTKD_REPORT) console.log('byte mutants', tally, kinds); // eslint-disable-line no-console
  });

  it(`${GRAPH_MUTANTS} edited graphs (op types, dangling inputs, initializer sizes, NaN weights, attributes) end in a model or a one-line exit-2 error`, () => {
    const before = tf.memory().numTensors;
    const rng = new SeededRng(SEED + 1);
    const tally: Tally = { parsed: 0, refused: 0, slowest: 0, bad: [] };
    for (let i = 0; i < GRAPH_MUTANTS; i++) {
      const [name, base] = bases[i % bases.length];
      const m = onnx.ModelProto.decode(base);
      const edits = [editGraph(m, rng)];
      if (rng.next() < 0.3) edits.push(editGraph(m, rng));
      check(onnx.ModelProto.encode(m).finish(), `#${i} ${name} ${edits.join(' + ')}`, tally);
    }
    expect(tally.bad).toEqual([]);
    expect(tally.refused).toBeGreaterThan(GRAPH_MUTANTS / 2);
    expect(tally.parsed).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
    if (process.env.CERTKD_REPORT) console.log('graph mutants', tally); // eslint-disable-line no-console
  });

  it('the length-prefix walker finds the prefixes of a model (so varint corruption targets real fields)', () => {
    const [, base] = bases[0];
    const found = lengthVarints(base);
    expect(found.length).toBeGreaterThan(20);
    // The graph (field 7 of ModelProto) is one of them.
    const graphKey = bases[0][1].indexOf((7 << 3) | 2);
    expect(found.some((f) => f.at === graphKey + 1)).toBe(true);
  });
});
