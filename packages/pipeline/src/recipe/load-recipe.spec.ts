import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { loadRecipe, parseRecipe } from './load-recipe';

const base = {
  name: 'r',
  dataset: { name: 'synthetic' },
  stages: [{ stage: 'train', architecture: { name: 'mlp' }, epochs: 1 }],
};

const expectConfig = (raw: unknown, field: RegExp, msg: RegExp) => {
  try {
    parseRecipe(raw, 'r.yaml');
    throw new Error('parsed');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toMatch(field);
    expect((e as Error).message).toMatch(msg);
    expect((e as ConfigError).exitCode).toBe(2);
  }
};

describe('recipe validation', () => {
  it('fills defaults', () => {
    const r = parseRecipe(base);
    expect(r.seed).toBe(0);
    expect(r.backend).toBe('auto');
    const st = r.stages[0];
    expect(st.stage === 'train' && st.batchSize).toBe(128);
    expect(st.stage === 'train' && st.loss).toEqual({ kind: 'certified-loss', name: 'standard', options: {} });
  });

  it('names the field and the allowed values of an enum', () => {
    expectConfig({ ...base, backend: 'gpu' }, /^backend$/, /got "gpu"; allowed values: "auto", "tensorflow", "wasm", "cpu"/);
    expectConfig({ ...base, stages: [{ ...base.stages[0], init: 'xavier' }] }, /^stages\.0\.init$/, /allowed values: "default", "ibp"/);
  });

  it('names an unknown stage with the stage names', () => {
    expectConfig({ ...base, stages: [{ stage: 'fit', epochs: 1 }] }, /^stages\.0\.stage$/, /allowed values: train, train-teacher/);
  });

  it('rejects unknown fields, wrong types and missing fields', () => {
    expectConfig({ ...base, epochz: 3 }, /\(root\)/, /unknown field\(s\) 'epochz'/);
    expectConfig({ ...base, stages: [{ ...base.stages[0], epochs: -2 }] }, /^stages\.0\.epochs$/, /got -2/);
    expectConfig({ ...base, stages: [{ stage: 'train', epochs: 1 }] }, /^stages\.0\.architecture$/, /missing/);
    expectConfig({ ...base, name: 'a b' }, /^name$/, /letters, digits/);
    // Run and model names become folders (runs/<name>/models/<model>): one safe component each.
    for (const bad of ['..', '.', '../../etc/x', '/abs', 'a/b', '.hidden']) {
      expectConfig({ ...base, name: bad }, /^name$/, /a single folder name/);
      expectConfig({ ...base, stages: [{ ...base.stages[0], model: bad }] }, /^stages\.0\.model$/, /a single folder name/);
      expectConfig({ ...base, stages: [{ stage: 'load-teacher', model: bad, path: 't.onnx' }] }, /^stages\.0\.model$/, /a single folder name/);
    }
    expectConfig({ ...base, stages: [{ ...base.stages[0], batchSize: 1e9 }] }, /^stages\.0\.batchSize$/, /65536/);
  });

  it('reports unreadable files and bad YAML with the file name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-recipe-'));
    const f = path.join(dir, 'bad.yaml');
    fs.writeFileSync(f, 'name: [unclosed\n');
    expect(() => loadRecipe(f)).toThrow(/bad.yaml: not valid YAML/);
    expect(() => loadRecipe(path.join(dir, 'none.yaml'))).toThrow(/none.yaml: recipe file not found/);
    fs.rmSync(dir, { recursive: true });
  });

  it('every shipped recipe is valid', () => {
    const dir = path.resolve(__dirname, '../../../../recipes');
    const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => loadRecipe(path.join(dir, f))).not.toThrow();
  });
});
