import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '@certkd/core';
import { REPORT_CSS, escapeHtml, renderPngs } from '@certkd/pipeline';
import { SWEEPS_DIR, SweepPlan, canonical, findAxis } from './sweep/expand';
import { runComplete } from './run-state';
import { RunPaths } from '@certkd/pipeline';

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (table to 30, then the Cornish-Fisher expansion). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  if (df <= 30) return T975[Math.round(df) - 1];
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

export interface Stats {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); null for one value. */
  sd: number | null;
}

export interface Interval extends Stats {
  /** 95% t-interval of the mean; null for fewer than two values. */
  ci95: [number, number] | null;
}

export function stats(xs: number[]): Interval {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  const half = sd !== null ? (tQuantile975(n - 1) * sd) / Math.sqrt(n) : null;
  return { n, mean, sd, ci95: half !== null ? [mean - half, mean + half] : null };
}

export interface SettingRow {
  setting: string;
  overrides: Record<string, unknown>;
  runs: number;
  finished: number;
  metrics: Record<string, Interval>;
  seeds: { seed: number; run: string; values: Record<string, number | undefined> }[];
}

export interface PairRow {
  pair: string;
  axis: string;
  baseline: unknown;
  treatment: unknown;
  /** The other (non-seed) axes' values both settings share. */
  at: Record<string, unknown>;
  baselineSetting: string;
  treatmentSetting: string;
  /** Seeds present in both settings. */
  seeds: number[];
  /** treatment - baseline, per metric, paired by seed. */
  diff: Record<string, Interval>;
}

export interface SweepReport {
  sweep: string;
  description: string;
  store: string;
  metrics: string[];
  runs: number;
  finished: number;
  settings: SettingRow[];
  pairs: PairRow[];
}

/** Aggregate the results.json of the sweep's finished runs: per setting (grid point without the seed) and per pair. */
export function aggregateSweep(plan: SweepPlan, store: string): SweepReport {
  const metrics = plan.loaded.sweep.metrics;
  const results = new Map<string, Record<string, unknown>>();
  for (const r of plan.runs) {
    const paths = RunPaths.forRun(store, r.name, undefined, 'run');
    if (!runComplete(paths, r.recipe)) continue;
    results.set(r.name, JSON.parse(fs.readFileSync(paths.results, 'utf8')) as Record<string, unknown>);
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const field = (r: Record<string, unknown> | undefined, m: string) =>
    m.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), r);
  const settings: SettingRow[] = [...plan.settings].map(([setting, overrides]) => {
    const runs = plan.runs.filter((r) => r.setting === setting);
    const seeds = runs.map((r) => ({ seed: r.seed, run: r.name, values: Object.fromEntries(metrics.map((m) => [m, num(field(results.get(r.name), m))])) }));
    return {
      setting,
      overrides,
      runs: runs.length,
      finished: runs.filter((r) => results.has(r.name)).length,
      metrics: Object.fromEntries(metrics.map((m) => [m, stats(seeds.map((s) => s.values[m]).filter((v): v is number => v !== undefined))])),
      seeds,
    };
  });
  const pairs: PairRow[] = [];
  const bySetting = new Map(settings.map((s) => [s.setting, s]));
  const settingOf = (o: Record<string, unknown>) => [...plan.settings].find(([, ov]) => canonical(ov) === canonical(o))?.[0];
  for (const [pair, def] of Object.entries(plan.loaded.sweep.pairs)) {
    const [key, baseline] = Object.entries(def.baseline)[0];
    const axis = findAxis(plan.axes, key)!;
    const treatments = (def.treatments ?? axis.values).filter((v) => canonical(v) !== canonical(baseline));
    for (const [baseSetting, ov] of plan.settings) {
      if (canonical(ov[axis.short]) !== canonical(baseline)) continue;
      const at = Object.fromEntries(Object.entries(ov).filter(([k]) => k !== axis.short));
      for (const t of treatments) {
        const treatSetting = settingOf({ ...ov, [axis.short]: t });
        if (!treatSetting) continue;
        const b = bySetting.get(baseSetting)!;
        const tr = bySetting.get(treatSetting)!;
        const common = b.seeds.map((s) => s.seed).filter((seed) => tr.seeds.some((x) => x.seed === seed));
        const diff: Record<string, Interval> = {};
        const used = new Set<number>();
        for (const m of metrics) {
          const ds: number[] = [];
          for (const seed of common) {
            const vb = b.seeds.find((s) => s.seed === seed)!.values[m];
            const vt = tr.seeds.find((s) => s.seed === seed)!.values[m];
            if (vb !== undefined && vt !== undefined) {
              ds.push(vt - vb);
              used.add(seed);
            }
          }
          diff[m] = stats(ds);
        }
        pairs.push({
          pair,
          axis: axis.short,
          baseline,
          treatment: t,
          at,
          baselineSetting: baseSetting,
          treatmentSetting: treatSetting,
          seeds: [...used].sort((x, y) => x - y),
          diff,
        });
      }
    }
  }
  return {
    sweep: plan.loaded.sweep.name,
    description: plan.loaded.sweep.description,
    store: path.resolve(store),
    metrics,
    runs: plan.runs.length,
    finished: results.size,
    settings,
    pairs,
  };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(100 * v).toFixed(2)}`);
const isRate = (m: string) => /acc|certified_by_method/.test(m);
const fmt = (m: string, v: number | null | undefined) => (isRate(m) ? pct(v) : v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toPrecision(4));
const meanSd = (m: string, s: Interval) => (s.n === 0 ? '–' : `${fmt(m, s.mean)}${s.sd !== null ? ` ± ${fmt(m, s.sd)}` : ''}`);
const ci = (m: string, s: Interval) => (s.n === 0 ? '–' : `${fmt(m, s.mean)} [${s.ci95 ? `${fmt(m, s.ci95[0])}, ${fmt(m, s.ci95[1])}` : 'n < 2'}]`);
const showOverrides = (o: Record<string, unknown>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ') || '–';

function tables(r: SweepReport): { head: string[]; rows: string[][] }[] {
  const settings = {
    head: ['setting', 'overrides', 'runs', ...r.metrics.map((m) => `${m}${isRate(m) ? ' (%)' : ''} mean ± sd`)],
    rows: r.settings.map((s) => [s.setting, showOverrides(s.overrides), `${s.finished}/${s.runs}`, ...r.metrics.map((m) => meanSd(m, s.metrics[m]))]),
  };
  const pairs = {
    head: ['pair', 'treatment − baseline', 'at', 'seeds', ...r.metrics.map((m) => `Δ ${m}${isRate(m) ? ' (points)' : ''} [95% CI]`)],
    rows: r.pairs.map((p) => [
      p.pair,
      `${p.axis}=${JSON.stringify(p.treatment)} − ${p.axis}=${JSON.stringify(p.baseline)}`,
      showOverrides(p.at),
      String(p.seeds.length),
      ...r.metrics.map((m) => ci(m, p.diff[m])),
    ]),
  };
  return [settings, pairs];
}

const mdTable = (t: { head: string[]; rows: string[][] }) =>
  [
    `| ${t.head.join(' | ')} |`,
    `|${t.head.map(() => '---').join('|')}|`,
    ...t.rows.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
const htmlTable = (t: { head: string[]; rows: string[][] }) =>
  `<table><thead><tr>${t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>\n${t.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n')}\n</tbody></table>`;

export interface WrittenReport {
  dir: string;
  files: string[];
  report: SweepReport;
}

/**
 * Write the sweep report to <store>/_sweeps/<sweep>/: report.json (every number), report.md and
 * a self-contained report.html with plots (rendered like the run reports).
 */
export async function writeSweepReport(plan: SweepPlan, store: string): Promise<WrittenReport> {
  const report = aggregateSweep(plan, store);
  const dir = path.join(path.resolve(store), SWEEPS_DIR, report.sweep);
  fs.mkdirSync(dir, { recursive: true });
  const [settingsTable, pairsTable] = tables(report);
  const plots: { title: string; file: string; spec: object }[] = [];
  const settingRows = report.settings.flatMap((s) =>
    report.metrics
      .filter((m) => s.metrics[m].n > 0)
      .map((m) => ({
        setting: s.setting,
        metric: m,
        mean: s.metrics[m].mean,
        lo: s.metrics[m].mean - (s.metrics[m].sd ?? 0),
        hi: s.metrics[m].mean + (s.metrics[m].sd ?? 0),
      })),
  );
  if (settingRows.length) {
    plots.push({
      title: 'Mean per setting (bars: ± one sd over seeds)',
      file: 'settings.png',
      spec: {
        title: 'Mean per setting (± sd over seeds)',
        data: { values: settingRows },
        facet: { column: { field: 'metric', type: 'nominal', title: null } },
        spec: {
          width: 220,
          height: 200,
          layer: [
            {
              mark: { type: 'point', filled: true, size: 60 },
              encoding: {
                x: { field: 'setting', type: 'nominal', axis: { labelAngle: -40, labelLimit: 240 } },
                y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: 'mean over seeds' },
                color: { field: 'setting', type: 'nominal', legend: null },
              },
            },
            {
              mark: 'rule',
              encoding: {
                x: { field: 'setting', type: 'nominal' },
                y: { field: 'lo', type: 'quantitative' },
                y2: { field: 'hi' },
                color: { field: 'setting', type: 'nominal', legend: null },
              },
            },
          ],
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  }
  const pairRows = report.pairs.flatMap((p) =>
    report.metrics
      .filter((m) => p.diff[m].n > 0)
      .map((m) => ({
        comparison: `${p.axis}=${JSON.stringify(p.treatment)} vs ${JSON.stringify(p.baseline)}${Object.keys(p.at).length ? ` (${showOverrides(p.at)})` : ''}`,
        metric: m,
        mean: p.diff[m].mean,
        lo: p.diff[m].ci95?.[0] ?? p.diff[m].mean,
        hi: p.diff[m].ci95?.[1] ?? p.diff[m].mean,
      })),
  );
  if (pairRows.length) {
    plots.push({
      title: 'Paired differences (treatment − baseline, 95% t-interval)',
      file: 'pairs.png',
      spec: {
        title: 'Paired differences, 95% t-intervals',
        data: { values: pairRows },
        facet: { column: { field: 'metric', type: 'nominal', title: null } },
        spec: {
          width: 220,
          height: 200,
          layer: [
            { mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { datum: 0 } } },
            {
              mark: { type: 'point', filled: true, size: 60 },
              encoding: {
                x: { field: 'comparison', type: 'nominal', axis: { labelAngle: -40, labelLimit: 240 } },
                y: { field: 'mean', type: 'quantitative', title: 'treatment − baseline' },
              },
            },
            { mark: 'rule', encoding: { x: { field: 'comparison', type: 'nominal' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
          ],
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  }
  await renderPngs(plots.map((p) => ({ spec: p.spec, file: path.join(dir, p.file) })));
  const files: string[] = [];
  const json = path.join(dir, 'report.json');
  writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  files.push(json);
  const intro = `${report.finished} of ${report.runs} runs finished. Settings are the grid points without the seed; means and sample sd are over seeds. Paired differences subtract the baseline's value from the treatment's at the same seed; the interval is the 95% t-interval of their mean.`;
  const md = [
    `# CertKD sweep report: ${report.sweep}`,
    '',
    report.description,
    '',
    intro,
    '',
    '## Settings',
    '',
    mdTable(settingsTable),
    '',
    ...(report.pairs.length ? ['## Paired differences', '', mdTable(pairsTable), ''] : []),
    ...plots.map((p) => `![${p.title}](${p.file})`),
    '',
    '## Runs',
    '',
    mdTable({
      head: ['run', 'setting', 'seed', ...report.metrics],
      rows: report.settings.flatMap((s) => s.seeds.map((x) => [x.run, s.setting, String(x.seed), ...report.metrics.map((m) => fmt(m, x.values[m]))])),
    }),
    '',
  ].join('\n');
  const mdFile = path.join(dir, 'report.md');
  writeFileAtomic(mdFile, md);
  files.push(mdFile);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CertKD sweep report: ${escapeHtml(report.sweep)}</title>
<style>${REPORT_CSS}</style></head>
<body><h1>CertKD sweep report: ${escapeHtml(report.sweep)}</h1>
<p>${escapeHtml(report.description)}</p>
<p>${escapeHtml(intro)}</p>
<h2>Settings</h2>
${htmlTable(settingsTable)}
${report.pairs.length ? `<h2>Paired differences</h2>\n${htmlTable(pairsTable)}` : ''}
${plots.map((p) => `<h2>${escapeHtml(p.title)}</h2><img alt="${escapeHtml(p.title)}" src="data:image/png;base64,${fs.readFileSync(path.join(dir, p.file)).toString('base64')}">`).join('\n')}
</body></html>
`;
  const htmlFile = path.join(dir, 'report.html');
  writeFileAtomic(htmlFile, html);
  files.push(htmlFile, ...plots.map((p) => path.join(dir, p.file)));
  return { dir, files, report };
}
