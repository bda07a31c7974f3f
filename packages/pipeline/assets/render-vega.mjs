// Renders vega-lite specs to PNG files: reads [{ spec, file }] as JSON on stdin.
// Runs as its own process so that the ES-module-only vega packages load under plain Node,
// whatever module system the caller uses.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as vega from 'vega';
import * as vl from 'vega-lite';

const require = createRequire(import.meta.url);
const { Resvg } = require('@resvg/resvg-js');

const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const { spec, file } of jobs) {
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
  fs.writeFileSync(file, png);
}
