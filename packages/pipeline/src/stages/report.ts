import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { writeFileAtomic } from '@certkd/core';
import { RunContext } from '../engine/context';
import { ReportStage } from '../recipe/schema';
import { asyncStage } from '../engine/async-stage';
import { renderPlots } from '../sinks/plots';

/** The report pages' style sheet (also used by other CertKD HTML reports, such as sweep reports). */
export const REPORT_CSS =
  'body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:1em 0;border:1px solid #ddd}pre{background:#f6f6f6;padding:1em;overflow:auto}.warning{color:#a00;font-weight:bold}';

/** Text for HTML. */
export const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const pct = (v?: number) => (v === undefined ? '–' : `${(100 * v).toFixed(2)}%`);

/** Results table rows: one per model. */
export function resultRows(ctx: RunContext): string[][] {
  return Object.entries(ctx.results).map(([name, r]) => [
    name,
    r.role,
    r.architecture,
    r.trained_with ?? '–',
    pct(r.clean_acc),
    pct(r.pgd_acc),
    pct(r.certified_acc),
    [
      ...Object.entries(r.certified_by_method ?? {}).map(([m, v]) => `${m} ${pct(v)}`),
      ...Object.entries(r.decided_by ?? {}).map(([m, v]) => `${m} decided ${pct(v)}`),
    ].join(', ') || '–',
    r.verdicts
      ? Object.entries(r.verdicts)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : '–',
    r.train_wall_s === undefined ? '–' : `${r.train_wall_s.toFixed(0)} s`,
  ]);
}

/**
 * The premise of distillation (METHODS 7): a teacher empirically more robust than the student it
 * teaches. One line per distilled student whose teacher and itself were both attacked (PGD-40),
 * flagged when the teacher is not stronger.
 */
export function teacherChecks(ctx: RunContext): { line: string; weak: boolean }[] {
  const out: { line: string; weak: boolean }[] = [];
  for (const [name, r] of Object.entries(ctx.results)) {
    const t = r.teacher ? ctx.results[r.teacher] : undefined;
    if (!t || t.pgd_acc === undefined || r.pgd_acc === undefined) continue;
    const gap = 100 * (t.pgd_acc - r.pgd_acc);
    const weak = gap <= 0;
    const what = `teacher '${r.teacher}' PGD-40 ${pct(t.pgd_acc)} (standard ${pct(t.clean_acc)}) vs student '${name}' PGD-40 ${pct(r.pgd_acc)} (standard ${pct(r.clean_acc)})`;
    out.push({
      weak,
      line: weak
        ? `WARNING: the ${what}: the teacher is not stronger than the student it teaches, so it has nothing to give (METHODS 7)`
        : `The ${what}: the teacher is stronger by ${gap.toFixed(2)} points`,
    });
  }
  return out;
}

const HEAD = ['model', 'role', 'architecture', 'loss', 'standard', 'PGD-40', 'certified', 'certified per method', 'verdicts (points)', 'train time'];

/** Markdown and a self-contained HTML page (plots inlined as PNG data URLs) under runs/<name>/report/. */
export function reportStage(ctx: RunContext, st: ReportStage) {
  return asyncStage(ctx, async (emit) => {
    const dir = ctx.paths.report;
    fs.mkdirSync(dir, { recursive: true });
    const plots = await renderPlots(ctx, dir);
    const rows = resultRows(ctx);
    const recipeYaml = YAML.stringify(ctx.recipe);
    const eps = ctx.recipe.eps;
    const checks = teacherChecks(ctx);
    for (const c of checks) if (c.weak) emit({ type: 'warning', stage: 'report', message: c.line });
    if (st.formats.includes('md')) {
      const md = [
        `# CertKD report: ${ctx.recipe.name}`,
        '',
        ctx.recipe.description,
        '',
        `Dataset ${ctx.recipe.dataset.name}, eps ${eps} (pixel space), seed ${ctx.recipe.seed}, backend ${ctx.backend.name}.`,
        '',
        `| ${HEAD.join(' | ')} |`,
        `|${HEAD.map(() => '---').join('|')}|`,
        ...rows.map((r) => `| ${r.join(' | ')} |`),
        '',
        ...checks.flatMap((c) => [c.weak ? `**${c.line}**` : c.line, '']),
        ...plots.map((p) => `![${p.title}](${p.file})`),
        '',
        '## Recipe',
        '```yaml',
        recipeYaml.trimEnd(),
        '```',
        '',
      ].join('\n');
      const f = path.join(dir, 'report.md');
      writeFileAtomic(f, md);
      emit({ type: 'artifact', stage: 'report', kind: 'report-md', path: f });
    }
    if (st.formats.includes('html')) {
      const esc = escapeHtml;
      const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CertKD report: ${esc(ctx.recipe.name)}</title>
<style>${REPORT_CSS}</style></head>
<body><h1>CertKD report: ${esc(ctx.recipe.name)}</h1>
<p>${esc(ctx.recipe.description)}</p>
<p>Dataset ${esc(ctx.recipe.dataset.name)}, eps ${eps} (pixel space), seed ${ctx.recipe.seed}, backend ${esc(ctx.backend.name)}.</p>
<table id="results"><thead><tr>${HEAD.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>
${checks.map((c) => `<p class="${c.weak ? 'warning' : 'teacher'}">${esc(c.line)}</p>`).join('\n')}
${plots.map((p) => `<h2>${esc(p.title)}</h2><img alt="${esc(p.title)}" src="data:image/png;base64,${fs.readFileSync(path.join(dir, p.file)).toString('base64')}">`).join('\n')}
<h2>Recipe</h2><pre>${esc(recipeYaml)}</pre>
</body></html>
`;
      const f = path.join(dir, 'report.html');
      writeFileAtomic(f, html);
      emit({ type: 'artifact', stage: 'report', kind: 'report-html', path: f });
    }
  });
}
