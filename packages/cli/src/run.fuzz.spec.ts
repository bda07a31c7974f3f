import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { parseRecipe } from '@certkd/pipeline';
import { describeWithData } from '../../../tools/jest/shared-data.cjs';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeSentinel, snapshot, diffSnapshots } = require('../../../tools/jest/sentinel.cjs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prng, shippedRecipes, mutate } = require('../../../tools/jest/recipe-mutator.cjs');

// The real `certkd run` on invalid recipes and hostile run names (#16), inside a temp folder
// with a sentinel tree around the runs folder: every case must exit 2 with a one-line message
// and no stack trace, create no run directory, and leave every file outside the runs folder
// as it was.
const bin = path.resolve(__dirname, '../bin/certkd.js');
const MAIN = path.resolve(__dirname, '../dist/main.js'); // the built command: `nx test @certkd/cli` builds it first
const SEED = Number(process.env.CERTKD_FUZZ_SEED ?? 16);
const MUTATED = 8;

/** `count` mutated shipped recipes that the schema refuses (checked in-process, so no case starts a run). */
function invalidRecipes(count: number): { text: string; edits: string }[] {
  const rng = prng(SEED);
  const base: { file: string; raw: unknown }[] = shippedRecipes();
  const out: { text: string; edits: string }[] = [];
  while (out.length < count) {
    const src = base[rng.int(base.length)];
    const { raw, edits } = mutate(src.raw, rng, 1 + rng.int(2));
    try {
      parseRecipe(raw, src.file);
    } catch {
      out.push({ text: YAML.stringify(raw), edits: `${src.file}: ${edits.join('; ')}` });
    }
  }
  return out;
}

describeWithData(MAIN, 'certkd run fuzz: invalid recipes and hostile names', () => {
  let dir: string;
  let work: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-runfuzz-'));
    makeSentinel(dir);
    work = makeSentinel(path.join(dir, 'work'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`exits 2 with one line, creating, changing and removing nothing (seed ${SEED})`, () => {
    const valid = path.join(dir, 'valid.yaml');
    fs.writeFileSync(valid, 'name: valid\nbackend: cpu\ndataset: { name: synthetic }\nstages: [{ stage: evaluate }]\n');
    const cases: { label: string; args: string[] }[] = invalidRecipes(MUTATED).map((r, i) => {
      const f = path.join(dir, `mut-${i}.yaml`);
      fs.writeFileSync(f, r.text);
      return { label: r.edits, args: [f, i % 2 ? '--force' : '--resume'] };
    });
    const named = (name: string, file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text.replace('name: valid', `name: ${JSON.stringify(name)}`));
      return path.join(dir, file);
    };
    const text = fs.readFileSync(valid, 'utf8');
    cases.push(
      { label: '--name ..', args: [valid, '--name', '..', '--force'] },
      { label: '--name .', args: [valid, '--name', '.', '--force'] },
      { label: '--name absolute', args: [valid, '--name', path.join(dir, 'keep'), '--force'] },
      { label: '--name ../../x', args: [valid, '--name', '../../x'] },
      { label: 'recipe name ..', args: [named('..', 'up.yaml', text), '--force'] },
      { label: 'recipe name keep/nested', args: [named('keep/nested', 'nest.yaml', text), '--force'] },
      // dir/sub/plug.yaml names ../top.txt: the sentinel file, outside the recipe's folder.
      { label: 'plugin outside', args: [named('p', 'sub/plug.yaml', text.replace('stages:', 'plugins: [../top.txt]\nstages:')), '--force'] },
    );
    // The runs folder would be work/runs (the default, relative to the working directory).
    const before = snapshot(dir);
    for (const c of cases) {
      const r = spawnSync(process.execPath, [bin, 'run', ...c.args], { cwd: work, encoding: 'utf8', timeout: 60000 });
      const what = `${c.label}: status ${r.status}, stderr ${r.stderr}`;
      expect({ what, status: r.status }).toEqual({ what, status: 2 });
      expect({ what, lines: r.stderr.trim().split('\n').length }).toEqual({ what, lines: 1 });
      expect(r.stderr).toMatch(/^certkd: \w+Error: /);
      expect(r.stderr).not.toMatch(/\n\s+at |unexpected failure/);
      expect(fs.existsSync(path.join(work, 'runs'))).toBe(false);
    }
    expect(diffSnapshots(before, snapshot(dir))).toEqual([]);
  });
});
