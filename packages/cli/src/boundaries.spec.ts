import * as path from 'path';

// Plugin packages import only core and the shared engines (tools/boundaries.json).
describe('module boundaries of the workspace', () => {
  it('every package depends and imports only what its tag allows', () => {
    const { checkBoundaries } = require(path.resolve(__dirname, '../../../tools/scripts/check-boundaries.cjs')) as { checkBoundaries: (root: string) => string[] };
    expect(checkBoundaries(path.resolve(__dirname, '../../..'))).toEqual([]);
  });

  it('would report a plugin importing another plugin', () => {
    const fs = require('fs') as typeof import('fs');
    const os = require('os') as typeof import('os');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-bound-'));
    fs.mkdirSync(path.join(root, 'tools'), { recursive: true });
    fs.copyFileSync(path.resolve(__dirname, '../../../tools/boundaries.json'), path.join(root, 'tools/boundaries.json'));
    const pkg = (name: string, tag: string, deps: Record<string, string>, src: string) => {
      const dir = path.join(root, 'packages', name);
      fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@certkd/${name}`, dependencies: deps, nx: { tags: [tag] } }));
      fs.writeFileSync(path.join(dir, 'src/index.ts'), src);
    };
    pkg('core', 'type:core', {}, 'export {};');
    pkg('attacks', 'type:plugin', { '@certkd/core': '0.1.0' }, "export * from '@certkd/core';");
    pkg('teachers', 'type:plugin', { '@certkd/attacks': '0.1.0' }, "import { x } from '@certkd/attacks';");
    const { checkBoundaries } = require(path.resolve(__dirname, '../../../tools/scripts/check-boundaries.cjs')) as { checkBoundaries: (root: string) => string[] };
    const problems = checkBoundaries(root);
    fs.rmSync(root, { recursive: true, force: true });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toContain('@certkd/teachers (type:plugin) may not depend on @certkd/attacks');
  });
});
