import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { lastValueFrom, toArray } from 'rxjs';
import { parseRecipe } from '../recipe/load-recipe';
import { runRecipe } from '../engine/run-recipe';
import { itWithData } from '../../../../tools/jest/shared-data.cjs';

// Debian's chromium (.ci/run installs it): missing under CI is a failure, elsewhere a skip.
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p)) ?? '/usr/bin/chromium';
const CHROME_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('report stage', () => {
  let dir: string;
  let report: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certkd-report-'));
    const recipe = parseRecipe({
      name: 'rep',
      seed: 1,
      backend: 'cpu',
      eps: 0.05,
      dataset: { name: 'synthetic', options: { n: 64, testN: 16, shape: [6, 6, 1], classes: 3, seed: 1 } },
      stages: [
        {
          stage: 'train',
          model: 'net',
          architecture: { name: 'mlp', options: { hidden: [16] } },
          epochs: 3,
          batchSize: 16,
          loss: { kind: 'certified-loss', name: 'cc-ibp', options: {} },
          eps: { max: 0.05, start: 0, ramp: 2 },
        },
        { stage: 'evaluate', metrics: ['clean', 'pgd'] },
        { stage: 'certify', methods: ['ibp', 'crown'] },
        { stage: 'report' },
      ],
    });
    await lastValueFrom(runRecipe(recipe, { recipeFile: path.join(dir, 'rep.yaml'), runsDir: dir }).pipe(toArray()));
    report = path.join(dir, 'rep', 'report');
  }, 120000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes Markdown with the results table and PNG plots', () => {
    const md = fs.readFileSync(path.join(report, 'report.md'), 'utf8');
    expect(md).toContain('| model | role | architecture | loss | standard | PGD-40 | certified |');
    expect(md).toMatch(/\| net \| model \| mlp \| cc-ibp \| \d+\.\d\d% \| \d+\.\d\d% \| \d+\.\d\d% \|/);
    for (const f of ['loss-and-eps.png', 'accuracy.png', 'standard-vs-certified.png']) {
      expect(md).toContain(`](${f})`);
      const png = PNG.sync.read(fs.readFileSync(path.join(report, f)));
      expect(png.width).toBeGreaterThan(300);
      expect(png.height).toBeGreaterThan(200);
    }
  });

  itWithData(
    chromium,
    'the HTML page renders its table and images in headless Chromium',
    () => {
      const html = path.join(report, 'report.html');
      const dom = spawnSync(chromium, [...CHROME_FLAGS, `--user-data-dir=${path.join(dir, 'chrome-dom')}`, '--dump-dom', `file://${html}`], {
        encoding: 'utf8',
        timeout: 60000,
      });
      expect(dom.stdout).toContain('<table id="results">');
      expect(dom.stdout).toMatch(/<td>net<\/td><td>model<\/td><td>mlp<\/td>/);
      expect((dom.stdout.match(/<img /g) ?? []).length).toBe(3);
      const shot = path.join(dir, 'shot.png');
      spawnSync(
        chromium,
        [
          ...CHROME_FLAGS,
          `--user-data-dir=${path.join(dir, 'chrome-shot')}`,
          `--screenshot=${shot}`,
          '--window-size=1200,2600',
          '--hide-scrollbars',
          `file://${html}`,
        ],
        { timeout: 60000 },
      );
      const png = PNG.sync.read(fs.readFileSync(shot));
      // The plots draw in colour; the page around them is black, white and grey. Coloured pixels
      // in the screenshot mean the inlined PNG images were decoded and drawn.
      let coloured = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
      }
      expect(coloured).toBeGreaterThan(500);
    },
    120000,
  );
});
