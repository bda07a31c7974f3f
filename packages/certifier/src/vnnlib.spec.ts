import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PropertyFormatError, ModelFormatError } from '@certkd/core';
import { loadOnnxModel, loadVnnlib } from '@certkd/interop';
import { verifyVnnlib } from './vnnlib';
import { describeWithData, sharedPath } from '../../../tools/jest/shared-data.cjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ort = require('onnxruntime-node');

const DIR = sharedPath('vnncomp', '2021', 'mnistfc');
const ONNX = path.join(DIR, 'mnist-net_256x2.onnx');
const RESULTS = sharedPath('vnncomp', 'results', '2021', 'results_csv');

/**
 * Results of every 2021 tool for the 256x2 instances: vnnlib -> the majority decisive answer
 * ('sat' or 'unsat'); single tools are known to have reported some wrong answers that year.
 */
function otherTools(): Map<string, 'sat' | 'unsat'> {
  const votes = new Map<string, { sat: number; unsat: number }>();
  for (const f of fs.readdirSync(RESULTS)) {
    for (const line of fs.readFileSync(path.join(RESULTS, f), 'utf8').split('\n')) {
      const cols = line.split(',');
      if (cols[0] !== 'mnistfc' || !cols[1]?.includes('256x2')) continue;
      const key = path.basename(cols[2]);
      const w = cols[4].trim().toLowerCase();
      const v = votes.get(key) ?? { sat: 0, unsat: 0 };
      if (w === 'sat' || w === 'violated') v.sat++;
      if (w === 'unsat' || w === 'holds') v.unsat++;
      votes.set(key, v);
    }
  }
  const m = new Map<string, 'sat' | 'unsat'>();
  votes.forEach((v, k) => {
    if (v.sat !== v.unsat) m.set(k, v.sat > v.unsat ? 'sat' : 'unsat');
  });
  return m;
}

async function ortOutput(x: Float32Array): Promise<Float32Array> {
  const { input } = loadOnnxModelInfo();
  const dims = input.onnxShape.map((d) => (d < 0 ? 1 : d));
  const session = await ort.InferenceSession.create(fs.readFileSync(ONNX));
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

function loadOnnxModelInfo() {
  const m = loadOnnxModel(ONNX);
  m.network.dispose();
  return m;
}

function parseCounterexample(text: string): { X: number[]; Y: number[] } {
  const X: number[] = [],
    Y: number[] = [];
  for (const m of text.matchAll(/\((X|Y)_(\d+) ([^)\s]+)\)/g)) (m[1] === 'X' ? X : Y)[Number(m[2])] = Number(m[3]);
  return { X, Y };
}

describeWithData([ONNX, RESULTS], 'verifyVnnlib on mnistfc 256x2 (soundness vs 2021 tools, witnesses vs onnxruntime)', () => {
  const tools = otherTools();

  it.each(['prop_7_0.03', 'prop_2_0.03', 'prop_4_0.03', 'prop_14_0.03'])(
    '%s: never contradicts another tool; sat witnesses are real',
    async (p) => {
      const file = path.join(DIR, `${p}.vnnlib`);
      // 15 s: the falsifier's first round runs before CROWN and the cpu backend is slow on a shared machine
      const r = verifyVnnlib(ONNX, file, { timeoutS: 15 });
      const reference = tools.get(`${p}.vnnlib`);
      expect(reference).toBeDefined();
      if (r.result === 'unsat') expect(reference).toBe('unsat');
      if (r.result === 'sat') {
        const prop = loadVnnlib(file);
        const { X } = parseCounterexample(r.counterexample!);
        expect(X.length).toBe(prop.inputCount);
        const x = Float32Array.from(X);
        const box = prop.boxes[0];
        for (let k = 0; k < x.length; k++) {
          expect(x[k]).toBeGreaterThanOrEqual(box.lower[k]);
          expect(x[k]).toBeLessThanOrEqual(box.upper[k]);
        }
        const y = await ortOutput(x);
        const holds = prop.outputConstraints.some((conj) => conj.every((row) => row.c.reduce((s, c, i) => s + c * y[i], 0) <= row.d + 1e-5));
        expect(holds).toBe(true);
      }
      // these instances decide fast: the two sat ones by falsification, the unsat ones by CROWN
      expect(r.result).toBe(reference);
    },
    30000,
  );

  it('bad VNN-LIB text raises PropertyFormatError; a mismatched model raises ModelFormatError', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certifier-'));
    const bad = path.join(dir, 'bad.vnnlib');
    fs.writeFileSync(bad, '(declare-const X_0 Real)\n(assert (<= X_0 oops');
    expect(() => verifyVnnlib(ONNX, bad)).toThrow(PropertyFormatError);
    const small = path.join(dir, 'small.vnnlib');
    fs.writeFileSync(small, '(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= Y_0 0))\n');
    expect(() => verifyVnnlib(ONNX, small)).toThrow(ModelFormatError);
    const notOnnx = path.join(dir, 'x.onnx');
    fs.writeFileSync(notOnnx, 'not a model');
    expect(() => verifyVnnlib(notOnnx, path.join(DIR, 'prop_0_0.03.vnnlib'))).toThrow(ModelFormatError);
  });
});
