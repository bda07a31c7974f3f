import * as fs from 'fs';
import * as path from 'path';
import { RunContext } from '../engine/context';

export interface Plot {
  title: string;
  file: string;
}

// vega and vega-lite are ES modules; load them lazily so runs without a report never pay for them.
const importEsm = new Function('m', 'return import(m)') as (m: string) => Promise<any>;

/** Render a vega-lite spec to PNG via SVG (vega's headless renderer, then resvg). */
export async function renderPng(spec: object, file: string): Promise<void> {
  const vega = await importEsm('vega');
  const vl = await importEsm('vega-lite');
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white', ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg: string = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
  fs.writeFileSync(file, png);
}

/** The report's plots: loss parts and eps per epoch, accuracy curves, standard vs certified accuracy. */
export async function renderPlots(ctx: RunContext, dir: string): Promise<Plot[]> {
  const plots: Plot[] = [];
  const lossRows = Object.entries(ctx.history).flatMap(([model, h]) =>
    h.flatMap((e) => [
      { model, epoch: e.epoch, part: 'total', value: e.loss },
      ...Object.entries(e.parts).map(([part, value]) => ({ model, epoch: e.epoch, part, value })),
    ]),
  );
  const epsRows = Object.entries(ctx.history).flatMap(([model, h]) => h.map((e) => ({ model, epoch: e.epoch, eps: e.eps })));
  if (lossRows.length) {
    const file = 'loss-and-eps.png';
    await renderPng(
      {
        title: 'Training loss parts and eps per epoch',
        hconcat: [
          {
            width: 380,
            height: 240,
            data: { values: lossRows },
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'epoch', type: 'quantitative' },
              y: { field: 'value', type: 'quantitative', title: 'loss' },
              color: { field: 'part', type: 'nominal' },
              strokeDash: { field: 'model', type: 'nominal' },
            },
          },
          {
            width: 260,
            height: 240,
            data: { values: epsRows },
            mark: { type: 'line', point: true },
            encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { field: 'eps', type: 'quantitative' }, color: { field: 'model', type: 'nominal' } },
          },
        ],
      },
      path.join(dir, file),
    );
    plots.push({ title: 'Loss parts and eps per epoch', file });
  }
  const accRows = Object.entries(ctx.history).flatMap(([model, h]) =>
    h.flatMap((e) => [
      ...(e.train_acc !== undefined ? [{ model, epoch: e.epoch, split: 'train', acc: e.train_acc }] : []),
      ...(e.val_acc !== undefined ? [{ model, epoch: e.epoch, split: 'validation', acc: e.val_acc }] : []),
    ]),
  );
  for (const [model, r] of Object.entries(ctx.results)) {
    const h = ctx.history[model];
    if (h?.length && r.clean_acc !== undefined) accRows.push({ model, epoch: h[h.length - 1].epoch, split: 'test', acc: r.clean_acc });
  }
  if (accRows.length) {
    const file = 'accuracy.png';
    await renderPng(
      {
        title: 'Train / validation / test accuracy',
        width: 520,
        height: 260,
        data: { values: accRows },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' },
          y: { field: 'acc', type: 'quantitative', scale: { zero: false }, axis: { format: '%' } },
          color: { field: 'model', type: 'nominal' },
          strokeDash: { field: 'split', type: 'nominal' },
        },
      },
      path.join(dir, file),
    );
    plots.push({ title: 'Accuracy curves', file });
  }
  const pts = Object.entries(ctx.results)
    .filter(([, r]) => r.clean_acc !== undefined)
    .map(([model, r]) => ({ model, standard: r.clean_acc, certified: r.certified_acc ?? 0 }));
  if (pts.length) {
    const file = 'standard-vs-certified.png';
    await renderPng(
      {
        title: 'Standard vs certified accuracy',
        width: 360,
        height: 300,
        data: { values: pts },
        layer: [
          { mark: { type: 'point', filled: true, size: 120 }, encoding: { x: { field: 'standard', type: 'quantitative', scale: { zero: false }, axis: { format: '%' } }, y: { field: 'certified', type: 'quantitative', axis: { format: '%' } }, color: { field: 'model', type: 'nominal' } } },
          { mark: { type: 'text', dy: -12 }, encoding: { x: { field: 'standard', type: 'quantitative' }, y: { field: 'certified', type: 'quantitative' }, text: { field: 'model' } } },
        ],
      },
      path.join(dir, file),
    );
    plots.push({ title: 'Standard vs certified accuracy', file });
  }
  return plots;
}
