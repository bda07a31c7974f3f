import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ModelFormatError, writeDirAtomic, writeFileAtomic } from '@certkd/core';
import type { Recipe, TrainStage } from '../recipe/schema';
import type { EpochRecord } from './context';

/**
 * A content-addressed cache of trained teachers inside the runs folder
 * (<runs>/.teachers/<key>/): a train-teacher stage with `cache: true` whose key (the dataset,
 * the recipe seed, the plugins and every setting of the stage that changes the weights) is
 * already there loads that model instead of training it again, so the runs of a sweep share one
 * teacher. The cache never holds a partial model: entries are written whole and renamed into
 * place.
 */
export interface CachedTeacher {
  key: string;
  dir: string;
  /** Run that trained it, its training history and wall time. */
  meta: TeacherCacheMeta;
}

export interface TeacherCacheMeta {
  key: string;
  run: string;
  model: string;
  history: EpochRecord[];
  train_wall_s: number;
  train_workers: number;
}

const META = 'teacher-cache.json';

/** The cache key of a teacher stage: sha256 over the canonical JSON of what decides its weights. */
export function teacherCacheKey(recipe: Recipe, st: TrainStage): string {
  // The model name, the worker count (float rounding only) and the cache flag itself do not change what is learned.
  const { model: _model, workers: _workers, cache: _cache, seed: _seed, ...stage } = st;
  const what = { v: 1, dataset: recipe.dataset, ...teacherSeeds(recipe, st), plugins: recipe.plugins, stage };
  return crypto.createHash('sha256').update(canonicalJson(what)).digest('hex').slice(0, 24);
}

/**
 * The seeds that decide a trained model's weights: the model's own seed (the stage's `seed`, else
 * the recipe's) and, when the recipe holds out validation data or takes a training subset, the
 * recipe seed that picked those examples. A teacher with a fixed `seed` is thus the same model
 * for every recipe seed of a sweep.
 */
export function teacherSeeds(recipe: Recipe, st: TrainStage): { seed: number; dataSeed?: number } {
  const seed = st.seed ?? recipe.seed;
  const dataBySeed = recipe.dataset.validation > 0 || recipe.dataset.trainSubset !== undefined;
  return dataBySeed && seed !== recipe.seed ? { seed, dataSeed: recipe.seed } : { seed };
}

export function teacherCacheDir(runsDir: string, key: string): string {
  return path.join(runsDir, '.teachers', key);
}

/** The cached teacher for this key, or undefined (an entry without its metadata is not one). */
export function findCachedTeacher(runsDir: string, key: string): CachedTeacher | undefined {
  const dir = teacherCacheDir(runsDir, key);
  const metaFile = path.join(dir, META);
  if (!fs.existsSync(metaFile) || !fs.existsSync(path.join(dir, 'model.json'))) return undefined;
  let meta: TeacherCacheMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as TeacherCacheMeta;
  } catch (e) {
    throw new ModelFormatError(`unreadable teacher cache entry (${(e as Error).message}); delete ${dir} to retrain`, metaFile);
  }
  if (meta.key !== key) throw new ModelFormatError(`teacher cache entry has key ${meta.key}, expected ${key}; delete ${dir} to retrain`, metaFile);
  return { key, dir, meta };
}

/** Store a saved model directory under the key (replacing an entry a concurrent run wrote first). */
export function storeCachedTeacher(runsDir: string, key: string, modelDir: string, meta: TeacherCacheMeta): string {
  const dir = teacherCacheDir(runsDir, key);
  writeDirAtomic(dir, (tmp) => {
    copyFiles(modelDir, tmp);
    writeFileAtomic(path.join(tmp, META), JSON.stringify(meta, null, 2) + '\n');
  });
  return dir;
}

/** Copy the model files of a cache entry into a run's model directory (atomically). */
export function copyCachedTeacher(entry: CachedTeacher, modelDir: string): void {
  writeDirAtomic(modelDir, (tmp) => copyFiles(entry.dir, tmp, (f) => f !== META));
}

function copyFiles(from: string, to: string, keep: (name: string) => boolean = () => true): void {
  for (const f of fs.readdirSync(from)) {
    const src = path.join(from, f);
    if (keep(f) && fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(to, f));
  }
}

/** JSON with object keys sorted at every level (undefined members dropped), for stable hashes. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  // As JSON writes them in arrays: undefined (and functions) become null.
  return JSON.stringify(v) ?? 'null';
}
