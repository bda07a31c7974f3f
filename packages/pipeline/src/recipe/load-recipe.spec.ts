import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { EMPTY } from 'rxjs';
import { z } from 'zod';
import { pluginRegistry } from '@certkd/core';
import { loadRecipe, parseRecipe } from './load-recipe';
import { validateRecipe } from './validate-recipe';
import { createRegistry, createRunContainer } from '../engine/registry';

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
    expectConfig({ ...base, backend: 'gpu' }, /^backend$/, /got "gpu"; allowed values: "auto", "tensorflow", "onnxruntime", "wasm", "cpu"/);
    expectConfig({ ...base, stages: [{ ...base.stages[0], init: 'xavier' }] }, /^stages\.0\.init$/, /allowed values: "default", "ibp"/);
  });

  it('leaves a stage it does not know to the stage plugins; validateRecipe names it with the registered stages', () => {
    const r = parseRecipe({ ...base, stages: [{ stage: 'fit', epochs: 1 }] }, 'r.yaml');
    expect(r.stages[0]).toEqual({ stage: 'fit', epochs: 1 });
    try {
      validateRecipe(r, createRegistry(), 'r.yaml');
      throw new Error('validated');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe('stages.0.stage');
      expect((e as Error).message).toMatch(/unknown stage 'fit'; registered: certify, evaluate, load-teacher, report, train, train-student, train-teacher/);
    }
    expectConfig({ ...base, stages: [{ stage: 'Fit Me' }] }, /^stages\.0\.stage$/, /kebab-case/);
  });

  it("validates a registered stage plugin's entry with its schema, naming the file and field", () => {
    const plugins = createRunContainer();
    pluginRegistry(plugins).register({
      kind: 'stage',
      name: 'mark',
      description: 'test stage',
      options: z.object({ stage: z.literal('mark'), label: z.string().default('x') }).strict(),
      create: () => ({ run: () => EMPTY }),
    });
    const r = parseRecipe({ ...base, stages: [...base.stages, { stage: 'mark' }] }, 'r.yaml');
    expect(validateRecipe(r, pluginRegistry(plugins), 'r.yaml').stages[1]).toEqual({ stage: 'mark', label: 'x' });
    const bad = parseRecipe({ ...base, stages: [...base.stages, { stage: 'mark', label: 3 }] }, 'r.yaml');
    expect(() => validateRecipe(bad, pluginRegistry(plugins), 'r.yaml')).toThrow(/^r\.yaml: stages\.1\.label: /);
    const extra = parseRecipe({ ...base, stages: [...base.stages, { stage: 'mark', lable: 'y' }] }, 'r.yaml');
    expect(() => validateRecipe(extra, pluginRegistry(plugins), 'r.yaml')).toThrow("r.yaml: stages.1.lable: unknown option(s) 'lable' of stage 'mark'");
  });

  it('checks certify methods entries: registered bound methods and relaxations, naming the field', () => {
    const reg = createRegistry();
    const certify = (methods: unknown, extra: object = {}) =>
      parseRecipe({ ...base, stages: [...base.stages, { stage: 'certify', methods, ...extra }] }, 'r.yaml');
    expect(() => validateRecipe(certify(['ibp', { name: 'crown', relaxations: { relu: 'relu' } }]), reg, 'r.yaml')).not.toThrow();
    expect(() => validateRecipe(certify(['zonotope']), reg, 'r.yaml')).toThrow(/^r\.yaml: stages\.1\.methods\.0: unknown bound-method 'zonotope'/);
    expect(() => validateRecipe(certify([{ name: 'crown', relaxations: { relu: 'zero-slope' } }]), reg, 'r.yaml')).toThrow(
      /^r\.yaml: stages\.1\.methods\.0\.relaxations\.relu: unknown relaxation 'zero-slope'/,
    );
    expect(() => validateRecipe(certify(['crown'], { relaxations: { relu: 'dense' } }), reg, 'r.yaml')).toThrow(
      /^r\.yaml: stages\.1\.relaxations\.relu: relaxation 'dense' covers layer kind 'dense', not 'relu'/,
    );
    expect(() => validateRecipe(certify([{ name: 'alpha-crown', options: { iterations: -1 } }]), reg, 'r.yaml')).toThrow(
      /^r\.yaml: stages\.1\.methods\.0\.options\.iterations: /,
    );
    expect(() => validateRecipe(certify(['crown-ibp'], { timeout: 1 }), reg, 'r.yaml')).toThrow(
      /^r\.yaml: stages\.1\.methods\.0: unknown method 'crown-ibp' for complete certification/,
    );
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
