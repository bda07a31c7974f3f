import * as path from 'path';
import { spawn } from 'child_process';
import { RunContext } from '../engine/context';

export interface Plot {
  title: string;
  file: string;
}

const RENDERER = path.resolve(__dirname, '../../assets/render-vega.mjs');

/** Render vega-lite specs to PNG (vega's headless SVG renderer, then resvg) in a child process. */
export async function renderPngs(jobs: { spec: object; file: string }[]): Promise<void> {
  if (!jobs.length) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [RENDERER], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`plot rendering failed (${code}): ${err.trim().split('\n').slice(-3).join(' ')}`))));
    child.stdin.end(JSON.stringify(jobs));
  });
}

/** Render one vega-lite spec to a PNG file. */
export function renderPng(spec: object, file: string): Promise<void> {
  return renderPngs([{ spec, file }]);
}

/** The report's plots: loss parts and eps per epoch, accuracy curves, standard vs certified accuracy. */
export async function renderPlots(ctx: RunContext, dir: string): Promise<Plot[]> {
  const plots: Plot[] = [];
  const jobs: { spec: object; file: string }[] = [];
  const lossRows = Object.entries(ctx.history).flatMap(([model, h]) =>
    h.flatMap((e) => [
      { model, epoch: e.epoch, part: 'total', value: e.loss },
      ...Object.entries(e.parts).map(([part, value]) => ({ model, epoch: e.epoch, part, value })),
    ]),
  );
  const epsRows = Object.entries(ctx.history).flatMap(([model, h]) => h.map((e) => ({ model, epoch: e.epoch, eps: e.eps })));
  if (lossRows.length) {
    const file = 'loss-and-eps.png';
    jobs.push({
      spec: {
        title: 'Training loss parts and eps per epoch',
        resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
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
      file: path.join(dir, file),
    });
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
    jobs.push({
      spec: {
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
      file: path.join(dir, file),
    });
    plots.push({ title: 'Accuracy curves', file });
  }
  const pts = Object.entries(ctx.results)
    .filter(([, r]) => r.clean_acc !== undefined)
    .map(([model, r]) => ({ model, standard: r.clean_acc, certified: r.certified_acc ?? 0 }));
  if (pts.length) {
    const file = 'standard-vs-certified.png';
    jobs.push({
      spec: {
        title: 'Standard vs certified accuracy',
        width: 360,
        height: 300,
        data: { values: pts },
        layer: [
          {
            mark: { type: 'point', filled: true, size: 120 },
            encoding: {
              x: { field: 'standard', type: 'quantitative', scale: { zero: false }, axis: { format: '%' } },
              y: { field: 'certified', type: 'quantitative', axis: { format: '%' } },
              color: { field: 'model', type: 'nominal' },
            },
          },
          {
            mark: { type: 'text', dy: -12 },
            encoding: { x: { field: 'standard', type: 'quantitative' }, y: { field: 'certified', type: 'quantitative' }, text: { field: 'model' } },
          },
        ],
      },
      file: path.join(dir, file),
    });
    plots.push({ title: 'Standard vs certified accuracy', file });
  }
  await renderPngs(jobs);
  return plots;
}
