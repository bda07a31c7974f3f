import * as fs from 'fs';
import { RunPaths, recipeHash } from '@certkd/pipeline';
import type { Recipe } from '@certkd/pipeline';

/** Whether the run in `paths` finished every stage of `recipe` (its state.json says so for this very recipe, and results.json exists). */
export function runComplete(paths: RunPaths, recipe: Recipe): boolean {
  try {
    const state = JSON.parse(fs.readFileSync(paths.state, 'utf8')) as { recipeHash?: string; completed?: { index: number }[] };
    if (state.recipeHash !== recipeHash(recipe) || !fs.existsSync(paths.results)) return false;
    const done = new Set((state.completed ?? []).map((c) => c.index));
    return recipe.stages.every((_, i) => done.has(i));
  } catch {
    return false;
  }
}

/** Written into a run directory when its job failed (removed when the job starts again). */
export const FAILED_FILE = 'job-failed.json';
