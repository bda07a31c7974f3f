import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

// Plugin packages import only core and the shared engines. The rules live in
// tools/boundaries.json (by the `type:*` tag in each package.json `nx.tags`);
// eslint.config.mjs hands them to @nx/enforce-module-boundaries, and `nx run-many -t lint`
// enforces them on every project. These tests check that wiring on the real workspace, through
// the ESLint command line as `nx lint` runs it (in a child process: Jest's module sandbox cannot
// load the ESM config file).
const ROOT = path.resolve(__dirname, '../../..');
const ESLINT = path.join(ROOT, 'node_modules/eslint/bin/eslint.js');
const eslint = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [ESLINT, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`eslint ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
};
const rules = JSON.parse(fs.readFileSync(path.join(ROOT, 'tools/boundaries.json'), 'utf8')) as {
  depConstraints: { sourceTag: string; onlyDependOnLibsWithTags: string[] }[];
};

function workspacePackages(): { dir: string; name: string; tags: string[] }[] {
  const out = [];
  for (const base of ['packages', 'packages/examples']) {
    for (const entry of fs.readdirSync(path.join(ROOT, base))) {
      const file = path.join(ROOT, base, entry, 'package.json');
      if (!fs.existsSync(file)) continue;
      const json = JSON.parse(fs.readFileSync(file, 'utf8'));
      out.push({ dir: path.join(base, entry), name: json.name as string, tags: (json.nx?.tags ?? []) as string[] });
    }
  }
  return out;
}

describe('module boundaries of the workspace', () => {
  beforeAll(async () => {
    // @nx/enforce-module-boundaries reads the cached project graph and silently skips itself
    // without one (a fresh clone where nx has not run yet): compute it first.
    const { createProjectGraphAsync } = await import('@nx/devkit');
    await createProjectGraphAsync({ exitOnError: false });
  }, 120000);

  it('every package has exactly one type:* tag, and every tag has a rule', () => {
    const tags = new Set(rules.depConstraints.map((c) => c.sourceTag));
    const problems = workspacePackages().flatMap((p) => {
      const own = p.tags.filter((t) => t.startsWith('type:'));
      if (own.length !== 1) return [`${p.name}: needs exactly one type:* tag in package.json nx.tags, has [${own}]`];
      return tags.has(own[0]) ? [] : [`${p.name}: tag ${own[0]} has no rule in tools/boundaries.json`];
    });
    expect(problems).toEqual([]);
  });

  it('the lint rule carries the constraints of tools/boundaries.json', () => {
    const config = JSON.parse(eslint(['--print-config', 'packages/teachers/src/index.ts']));
    const [severity, options] = config.rules['@nx/enforce-module-boundaries'];
    expect(severity).toBe(2);
    expect(options.depConstraints).toEqual(rules.depConstraints);
  });

  const probe = (from: string, source: string): string[] => {
    const [result] = JSON.parse(eslint(['--format', 'json', '--stdin', '--stdin-filename', `${from}/src/__boundary-probe__.ts`], source));
    return (result.messages as { ruleId: string; message: string }[]).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
  };

  it('rejects a plugin importing another plugin', () => {
    const messages = probe('packages/teachers', "import { Pgd } from '@certkd/attacks';\nexport const f = Pgd;\n");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/type:plugin/);
  });

  it('accepts a plugin importing core and a shared engine', () => {
    expect(
      probe(
        'packages/teachers',
        "import { Network } from '@certkd/core';\nimport { loadOnnxModel } from '@certkd/interop';\nexport const f = [Network, loadOnnxModel];\n",
      ),
    ).toEqual([]);
  });
});
