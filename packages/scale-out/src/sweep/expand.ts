import * as crypto from 'crypto';
import * as path from 'path';
import { ConfigError } from '@certkd/core';
import { canonicalJson as canonical, parseRecipe, Recipe, teacherSeeds, TrainStage } from '@certkd/pipeline';

/** JSON with sorted keys, the stable content key (the pipeline's teacher cache keys with it too). */
export { canonical };
import { LoadedSweep, MAX_SWEEP_RUNS, loadSweep } from './sweep-file';

/** Longest run name (the recipe schema's limit). */
const RUN_NAME_MAX = 100;
/** Folder of the store (beside the runs) where shared teachers are trained; not a valid run name, so it never collides with one. */
export const TEACHERS_DIR = '_teachers';
/** Folder of the store holding sweep reports. */
export const SWEEPS_DIR = '_sweeps';

export interface Axis {
  /** The path as written in the grid. */
  path: string;
  /** Short name (last path part, or the whole path when two axes share it): used in run names, pairs and reports. */
  short: string;
  values: unknown[];
}

export interface ExpandedRun {
  /** The run's name: its folder in the store and its job. */
  name: string;
  /** The grid point without the seed axis (the setting's name, the same for every seed). */
  setting: string;
  /** Axis short name -> value. */
  overrides: Record<string, unknown>;
  seed: number;
  /** The validated recipe, with shared teachers replaced by load-teacher stages. */
  recipe: Recipe;
  /** Teacher jobs this run waits for. */
  teachers: string[];
}

/** A teacher trained once for several runs: a one-stage recipe run in <store>/_teachers/<name>. */
export interface SharedTeacher {
  /** teacher-<content hash>: the run name in <store>/_teachers and the job's key. */
  name: string;
  model: string;
  recipe: Recipe;
  /** Runs that load it. */
  usedBy: string[];
}

export interface SweepPlan {
  loaded: LoadedSweep;
  axes: Axis[];
  runs: ExpandedRun[];
  teachers: SharedTeacher[];
  /** Setting name -> its overrides without the seed. */
  settings: Map<string, Record<string, unknown>>;
}

/** Load a sweep file and expand it: every run validated with the recipe schema (exit 2 naming the file and field on the first bad one). */
export function planSweep(file: string): SweepPlan {
  return expandSweep(loadSweep(file));
}

export function expandSweep(loaded: LoadedSweep): SweepPlan {
  const { sweep, file } = loaded;
  const axes = makeAxes(Object.entries(sweep.grid));
  const total = axes.reduce((n, a) => n * a.values.length, 1);
  if (total > MAX_SWEEP_RUNS) throw new ConfigError(`the grid expands to ${total} runs (at most ${MAX_SWEEP_RUNS})`, file, 'grid');
  for (const a of axes) {
    const seen = new Set<string>();
    for (const v of a.values) {
      const k = canonical(v);
      if (seen.has(k)) throw new ConfigError(`value ${JSON.stringify(v)} appears twice`, file, `grid.${a.path}`);
      seen.add(k);
    }
    if (a.path === 'seed')
      for (const v of a.values)
        if (!Number.isInteger(v) || (v as number) < 0) throw new ConfigError(`seeds are integers >= 0, got ${JSON.stringify(v)}`, file, 'grid.seed');
  }
  checkPairs(loaded, axes);
  const points = cartesian(axes);
  const named = nameRuns(sweep.name, axes, points);
  const runs: ExpandedRun[] = [];
  const settings = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const raw = structuredClone(loaded.baseRaw);
    for (const a of axes) setPath(raw, a.path, p[a.short], file);
    anchorPaths(raw, path.dirname(loaded.recipeFile));
    raw.name = named[i].name;
    let recipe: Recipe;
    try {
      recipe = parseRecipe(raw, loaded.recipeFile);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`run '${named[i].name}' (${describe(p)}): ${e.message}`, file);
      throw e;
    }
    const overrides = Object.fromEntries(axes.map((a) => [a.short, p[a.short]]));
    const setting = named[i].setting;
    settings.set(setting, Object.fromEntries(axes.filter((a) => a.path !== 'seed').map((a) => [a.short, p[a.short]])));
    runs.push({ name: named[i].name, setting, overrides, seed: recipe.seed, recipe, teachers: [] });
  }
  const teachers = shareTeachers(runs);
  return { loaded, axes, runs, teachers, settings };
}

/**
 * A run's recipe lives in its run directory, so paths the base recipe gives relative to its own
 * folder (dataset root, plugin paths) are made absolute (the folder must be visible at the same
 * path to every worker).
 */
function anchorPaths(raw: Record<string, unknown>, dir: string): void {
  const ds = raw.dataset as Record<string, unknown> | undefined;
  if (ds && typeof ds === 'object' && typeof ds.root === 'string') ds.root = path.resolve(dir, ds.root);
  if (Array.isArray(raw.stages)) {
    for (const st of raw.stages as Record<string, unknown>[]) {
      if (st && typeof st === 'object' && st.stage === 'load-teacher' && typeof st.path === 'string') st.path = path.resolve(dir, st.path);
    }
  }
  if (Array.isArray(raw.plugins)) raw.plugins = raw.plugins.map((p) => (typeof p === 'string' && p.startsWith('.') ? path.resolve(dir, p) : p));
}

function makeAxes(entries: [string, unknown[]][]): Axis[] {
  const last = (p: string) => p.split('.').pop()!;
  const counts = new Map<string, number>();
  for (const [p] of entries) counts.set(last(p), (counts.get(last(p)) ?? 0) + 1);
  const axes = entries.map(([p, values]) => ({ path: p, short: counts.get(last(p))! > 1 ? p : last(p), values }));
  // The seed axis goes last in names, so that the runs of one setting sort together.
  return [...axes.filter((a) => a.path !== 'seed'), ...axes.filter((a) => a.path === 'seed')];
}

function checkPairs(loaded: LoadedSweep, axes: Axis[]): void {
  for (const [name, pair] of Object.entries(loaded.sweep.pairs)) {
    const [key, value] = Object.entries(pair.baseline)[0];
    const axis = findAxis(axes, key);
    const field = `pairs.${name}.baseline.${key}`;
    if (!axis) throw new ConfigError(`no grid axis '${key}'; axes: ${axes.map((a) => a.short).join(', ')}`, loaded.file, field);
    if (axis.path === 'seed') throw new ConfigError('runs are paired by seed; compare along another axis', loaded.file, field);
    if (!axis.values.some((v) => canonical(v) === canonical(value)))
      throw new ConfigError(
        `${JSON.stringify(value)} is not a value of the axis (values: ${axis.values.map((v) => JSON.stringify(v)).join(', ')})`,
        loaded.file,
        field,
      );
    for (const t of pair.treatments ?? []) {
      if (!axis.values.some((v) => canonical(v) === canonical(t)))
        throw new ConfigError(`${JSON.stringify(t)} is not a value of axis '${axis.short}'`, loaded.file, `pairs.${name}.treatments`);
    }
  }
}

export function findAxis(axes: Axis[], key: string): Axis | undefined {
  return axes.find((a) => a.short === key) ?? axes.find((a) => a.path === key);
}

/**
 * Every grid point, seed by seed: the seed axis is the outer loop, the others nest in file order.
 * Runs are queued in this order, so the arms of a paired comparison start together and run side
 * by side under the same load, and any prefix of finished runs is made of whole pairs.
 */
function cartesian(axes: Axis[]): Record<string, unknown>[] {
  const ordered = [...axes.filter((a) => a.path === 'seed'), ...axes.filter((a) => a.path !== 'seed')];
  let out: Record<string, unknown>[] = [{}];
  for (const a of ordered) out = out.flatMap((p) => a.values.map((v) => ({ ...p, [a.short]: v })));
  return out;
}

/** A value as a name part: numbers and plain strings as written, anything else by a short hash. */
function valuePart(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string' && /^[A-Za-z0-9._-]{1,24}$/.test(v)) return v;
  return 'h' + crypto.createHash('sha256').update(canonical(v)).digest('hex').slice(0, 8);
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/**
 * Stable run and setting names: the sweep's name, then `<axis><value>` per axis (seed last),
 * as one safe path component. Names that collide after sanitising, or that are too long, get a
 * hash of their overrides appended.
 */
function nameRuns(sweep: string, axes: Axis[], points: Record<string, unknown>[]): { name: string; setting: string }[] {
  const build = (p: Record<string, unknown>, withSeed: boolean) => {
    const parts = axes.filter((a) => withSeed || a.path !== 'seed').map((a) => safe(a.short.replace(/\./g, '_')) + valuePart(p[a.short]));
    return [sweep, ...parts].join('-');
  };
  const fix = (names: string[], keys: string[]) => {
    const count = new Map<string, number>();
    for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
    return names.map((n, i) => {
      if (count.get(n)! === 1 && n.length <= RUN_NAME_MAX) return n;
      const h = crypto.createHash('sha256').update(keys[i]).digest('hex').slice(0, 8);
      return `${n.slice(0, RUN_NAME_MAX - 9)}-${h}`;
    });
  };
  const runNames = fix(
    points.map((p) => build(p, true)),
    points.map((p) => canonical(p)),
  );
  const settingKeys = points.map((p) => canonical(Object.fromEntries(axes.filter((a) => a.path !== 'seed').map((a) => [a.short, p[a.short]]))));
  // Setting names collide legitimately across seeds; fix only collisions between different settings.
  const rawSettings = points.map((p) => build(p, false));
  const distinct = new Map<string, Set<string>>();
  rawSettings.forEach((s, i) => distinct.set(s, (distinct.get(s) ?? new Set()).add(settingKeys[i])));
  const settings = rawSettings.map((s, i) =>
    distinct.get(s)!.size > 1 || s.length > RUN_NAME_MAX
      ? `${s.slice(0, RUN_NAME_MAX - 9)}-${crypto.createHash('sha256').update(settingKeys[i]).digest('hex').slice(0, 8)}`
      : s,
  );
  return runNames.map((name, i) => ({ name, setting: settings[i] }));
}

/**
 * Set `value` at a dotted path of a raw recipe. `stages.<i>` is a stage by index and
 * `stages.<name>` the stage whose `model` is that name (or, failing that, the only stage of that
 * kind, e.g. `stages.evaluate`). Missing mappings on the way are created.
 */
export function setPath(raw: Record<string, unknown>, dotted: string, value: unknown, file: string): void {
  const parts = dotted.split('.');
  const field = `grid.${dotted}`;
  if (parts.some((p) => p === '')) throw new ConfigError('empty path part', file, field);
  let cur: unknown = raw;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i];
    const lastPart = i === parts.length - 1;
    const where = parts.slice(0, i).join('.') || '(root)';
    if (i === 1 && parts[0] === 'stages') {
      if (!Array.isArray(cur)) throw new ConfigError(`the base recipe has no stage list`, file, field);
      const idx = stageIndex(cur, key, file, field);
      if (lastPart) {
        cur[idx] = value;
        return;
      }
      cur = cur[idx];
      continue;
    }
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(key) || Number(key) >= cur.length)
        throw new ConfigError(`'${where}' is a list of ${cur.length}; '${key}' is not an index of it`, file, field);
      if (lastPart) {
        cur[Number(key)] = value;
        return;
      }
      cur = cur[Number(key)];
      continue;
    }
    if (cur === null || typeof cur !== 'object') throw new ConfigError(`'${where}' is ${JSON.stringify(cur)}, not a mapping`, file, field);
    const obj = cur as Record<string, unknown>;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new ConfigError(`'${key}' is not a recipe field`, file, field);
    if (lastPart) {
      obj[key] = value;
      return;
    }
    if (obj[key] === undefined) obj[key] = {};
    cur = obj[key];
  }
}

function stageIndex(stages: unknown[], key: string, file: string, field: string): number {
  if (/^\d+$/.test(key)) {
    const i = Number(key);
    if (i >= stages.length) throw new ConfigError(`the base recipe has ${stages.length} stages (indexes 0-${stages.length - 1})`, file, field);
    return i;
  }
  const modelOf = (s: unknown) => {
    if (s === null || typeof s !== 'object') return undefined;
    const o = s as Record<string, unknown>;
    if (typeof o.model === 'string') return o.model;
    if (o.stage === 'train-teacher' || o.stage === 'load-teacher') return 'teacher';
    if (o.stage === 'train' || o.stage === 'train-student') return 'student';
    return undefined;
  };
  const byModel = stages.map((s, i) => [modelOf(s), i] as const).filter(([m]) => m === key);
  if (byModel.length === 1) return byModel[0][1];
  if (byModel.length > 1) throw new ConfigError(`${byModel.length} stages have model '${key}'; address the stage by index`, file, field);
  const byKind = stages.map((s, i) => [(s as Record<string, unknown> | null)?.stage, i] as const).filter(([k]) => k === key);
  if (byKind.length === 1) return byKind[0][1];
  const known = stages.map((s, i) => `${i} (${modelOf(s) ?? (s as Record<string, unknown> | null)?.stage})`).join(', ');
  throw new ConfigError(`no stage with model '${key}'${byKind.length > 1 ? ` and ${byKind.length} '${key}' stages` : ''}; stages: ${known}`, file, field);
}

function describe(p: Record<string, unknown>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}

/**
 * Teachers shared by several runs: an identical train-teacher stage (everything but the worker
 * count, which changes nothing beyond float rounding) with the same dataset, seed, backend,
 * plugins and eps is trained once, as its own job in <store>/_teachers/teacher-<hash>, and the
 * runs load it with a load-teacher stage (same model name, path relative to the run's recipe).
 */
function shareTeachers(runs: ExpandedRun[]): SharedTeacher[] {
  const groups = new Map<string, { model: string; recipe: Recipe; uses: { run: ExpandedRun; index: number }[] }>();
  for (const run of runs) {
    run.recipe.stages.forEach((s, index) => {
      if (s.stage !== 'train-teacher') return;
      const st = s as TrainStage;
      const { workers: _w, seed: _s, ...stage } = st as TrainStage & Record<string, unknown>;
      const r = run.recipe;
      // A teacher with a fixed `seed` is one job for every seed of the sweep.
      const key = canonical({ v: 1, dataset: r.dataset, ...teacherSeeds(r, st), backend: r.backend, plugins: r.plugins, eps: r.eps, stage });
      const hash = crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
      const model = st.model ?? 'teacher';
      const g = groups.get(hash) ?? {
        model,
        recipe: parseRecipe({
          name: `teacher-${hash}`,
          description: `teacher '${model}' shared by the runs of a sweep`,
          seed: r.seed,
          backend: r.backend,
          plugins: r.plugins,
          dataset: r.dataset,
          eps: r.eps,
          stages: [st],
        }),
        uses: [],
      };
      g.uses.push({ run, index });
      groups.set(hash, g);
    });
  }
  const out: SharedTeacher[] = [];
  for (const [hash, g] of groups) {
    if (g.uses.length < 2) continue;
    const name = `teacher-${hash}`;
    for (const { run, index } of g.uses) {
      run.recipe.stages[index] = { stage: 'load-teacher', model: g.model, path: `../${TEACHERS_DIR}/${name}/models/${g.model}`, tap: 'penultimate' };
      if (!run.teachers.includes(name)) run.teachers.push(name);
    }
    out.push({ name, model: g.model, recipe: g.recipe, usedBy: g.uses.map((u) => u.run.name) });
  }
  return out;
}
