import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '@certkd/core';
import { valueAt } from '@certkd/pipeline';

/** The longest grid a sweep may expand to (a typo such as a 1000-value axis is refused before anything is enqueued). */
export const MAX_SWEEP_RUNS = 10_000;

const NAME_HINT = 'a letter or digit, then letters, digits, ".", "_" and "-" (at most 60)';
const sweepName = z
  .string()
  .max(60, NAME_HINT)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, NAME_HINT);

/** One grid axis: the path it overrides in the base recipe and its values. */
const axisValues = z.array(z.unknown()).min(1, 'give at least one value');

export const sweepSchema = z
  .object({
    /** The sweep's name: run names start with it. */
    name: sweepName,
    description: z.string().default(''),
    /** The base recipe, relative to the sweep file. */
    recipe: z.string().min(1),
    /**
     * Overrides by path into the base recipe (`seed`, `eps`, `dataset.options.n`,
     * `stages.student.loss.options.alpha`, `stages.1.epochs`): every combination of the values
     * is one run. A stage is addressed by its index or by its `model` name.
     */
    grid: z.record(z.string().min(1), axisValues).refine((g) => Object.keys(g).length > 0, 'give at least one axis'),
    /**
     * Paired comparisons: each names one axis and its baseline value (`baseline: { alpha: 0 }`);
     * every other value of that axis is compared with the baseline at the same other values,
     * paired by seed.
     */
    pairs: z
      .record(
        sweepName,
        z
          .object({
            baseline: z.record(z.string().min(1), z.unknown()).refine((b) => Object.keys(b).length === 1, 'name exactly one axis and its baseline value'),
            /** Compare only these values of the axis (default: every value but the baseline). */
            treatments: z.array(z.unknown()).min(1).optional(),
          })
          .strict(),
      )
      .default({}),
    /** Which results.json fields the report aggregates; a dotted path reaches inside (`models.student.certified_by_method.ibp`). */
    metrics: z
      .array(z.string().regex(/^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)*$/, 'a results.json field or a dotted path of fields'))
      .min(1)
      .default(['clean_acc', 'pgd_acc', 'certified_acc']),
  })
  .strict();

export type SweepFile = z.infer<typeof sweepSchema>;

export interface LoadedSweep {
  sweep: SweepFile;
  /** The sweep file as given. */
  file: string;
  /** Absolute path of the base recipe. */
  recipeFile: string;
  /** The base recipe as parsed (raw: overrides apply to it before validation). */
  baseRaw: Record<string, unknown>;
}

/** Read and validate a sweep file (YAML or JSON) and its base recipe's text. Errors name the file and the field (exit 2). */
export function loadSweep(file: string): LoadedSweep {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new ConfigError('sweep file not found', file);
  const raw = parseText(file, 'sweep');
  const r = sweepSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.map(String).join('.') || '(root)';
    const got = valueAt(raw, issue.path);
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`
        : `${issue.message} (${got === undefined ? 'missing' : `got ${JSON.stringify(got)}`})`;
    throw new ConfigError(what, file, field);
  }
  const sweep = r.data;
  const recipeFile = path.resolve(path.dirname(file), sweep.recipe);
  if (!fs.existsSync(recipeFile) || !fs.statSync(recipeFile).isFile())
    throw new ConfigError(`base recipe ${recipeFile} not found (paths are relative to the sweep file)`, file, 'recipe');
  const baseRaw = parseText(recipeFile, 'recipe');
  if (baseRaw === null || typeof baseRaw !== 'object' || Array.isArray(baseRaw)) throw new ConfigError('a recipe is a mapping of fields', recipeFile);
  return { sweep, file, recipeFile, baseRaw: baseRaw as Record<string, unknown> };
}

function parseText(file: string, what: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`not a valid ${what} (${file.endsWith('.json') ? 'JSON' : 'YAML'}): ${(e as Error).message.split('\n')[0]}`, file);
  }
}
