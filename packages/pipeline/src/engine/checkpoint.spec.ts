import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ARCHITECTURES, Network, SeededRng, architectureOptions, exitCodeOf } from '@certkd/core';
import { BN_CONVENTION, CheckpointError, TrainCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint';
import { readRunState, writeRunState } from './run-state';

const spec = ARCHITECTURES.find((a) => a.name === 'mlp')!.build(
  { shape: [4, 4, 1], classes: 3, mean: [0.5], std: [0.25] },
  architectureOptions.parse({ hidden: [6] }),
);

const state: TrainCheckpoint = {
  stageIndex: 0,
  model: 'net',
  epoch: 1,
  nextBatch: 2,
  step: 7,
  stepRngState: [1, 2, 3, 4],
  adamStep: 7,
  history: [],
  epochSums: { loss: 1.5, correct: 3, seen: 8, counted: 8, parts: { ce: 1.5 }, wall_s: 0.1 },
  trainWallS: 0.2,
  bnConvention: BN_CONVENTION,
  extraVariables: 0,
};

/** The error readCheckpoint throws for `dir`, or undefined. */
function failure(dir: string): CheckpointError | undefined {
  try {
    readCheckpoint(dir)?.network.dispose();
  } catch (e) {
    return e as CheckpointError;
  }
  return undefined;
}

describe('checkpoint reading', () => {
  let root: string;
  let ck: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-ck-'));
    ck = path.join(root, 'checkpoint');
    const net = Network.create(spec, new SeededRng(1));
    const sizes = net.namedParams().map(([, v]) => v.size);
    const adam = { step: 7, m: sizes.map((n) => new Float32Array(n).fill(0.1)), v: sizes.map((n) => new Float32Array(n).fill(0.2)) };
    writeCheckpoint(ck, state, net, adam, []);
    net.dispose();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('round-trips (control for the failure cases)', () => {
    const back = readCheckpoint(ck)!;
    expect(back.state).toMatchObject(state);
    expect(back.adam.m[0][0]).toBeCloseTo(0.1);
    back.network.dispose();
    expect(readCheckpoint(path.join(root, 'none'))).toBeUndefined();
  });

  it('a truncated state.json exits 2 naming the file and suggesting what to do', () => {
    const file = path.join(ck, 'state.json');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.slice(0, text.length / 2));
    const e = failure(ck);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(exitCodeOf(e)).toBe(2);
    expect(e!.message).toMatch(new RegExp(`^${file}: is truncated or not valid JSON \\(.*\\); delete ${ck} to restart .* or rerun .*--force`));
    expect(e!.message).not.toContain('\n');
  });

  it('state.json with wrong fields names the field', () => {
    const file = path.join(ck, 'state.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    json.sizes = 'many';
    fs.writeFileSync(file, JSON.stringify(json));
    expect(failure(ck)?.message).toMatch(/state.json: field 'sizes': /);
    json.sizes = [1, 2];
    json.slots = 5;
    fs.writeFileSync(file, JSON.stringify(json));
    expect(failure(ck)?.message).toMatch(/state.json: field 'slots': slots: more optimiser slots than stored arrays/);
  });

  it('a missing, truncated or oversized optimizer.bin exits 2 naming the file', () => {
    const file = path.join(ck, 'optimizer.bin');
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 6);
    expect(failure(ck)?.message).toMatch(
      new RegExp(`^${file}: holds ${size - 6} bytes, state.json describes ${size} .*; it is truncated or from another checkpoint; delete`),
    );
    fs.truncateSync(file, 2 ** 31);
    expect(failure(ck)?.message).toContain(`holds ${2 ** 31} bytes`);
    fs.rmSync(file);
    const e = failure(ck);
    expect(exitCodeOf(e)).toBe(2);
    expect(e?.message).toMatch(new RegExp(`^${file}: is missing; the checkpoint is incomplete; delete ${ck}`));
  });

  it('a damaged checkpoint model exits 2 naming the model', () => {
    fs.truncateSync(path.join(ck, 'model', 'weights.bin'), 10);
    const e = failure(ck);
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e?.message).toMatch(/checkpoint[/\\]model: the checkpoint's model is unusable: .*weights.bin: weights hold 10 bytes/);
  });

  it('a truncated run state.json exits 2 naming the file', () => {
    const file = path.join(root, 'state.json');
    writeRunState(file, { recipeHash: 'h', completed: [], results: {}, history: {}, wall_s: 1 });
    expect(readRunState(file)?.recipeHash).toBe('h');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').slice(0, 20));
    let err: unknown;
    try {
      readRunState(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect(exitCodeOf(err)).toBe(2);
    expect((err as Error).message).toMatch(new RegExp(`^${file}: is truncated or not valid JSON .*--force`));
  });
});
