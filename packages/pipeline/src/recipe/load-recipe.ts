import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { z } from 'zod';
import { ConfigError, quoteName } from '@certkd/core';
import { Recipe, recipeSchema } from './schema';

/** Read, parse and validate a recipe file (YAML or JSON). Errors name the file, the field path and the allowed values. */
export function loadRecipe(file: string): Recipe {
  if (!fs.existsSync(file)) throw new ConfigError('recipe file not found', file);
  const text = fs.readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`, file);
  }
  return parseRecipe(raw, file);
}

export function parseRecipe(raw: unknown, file = '<recipe>'): Recipe {
  const r = recipeSchema.safeParse(raw);
  if (!r.success) throw recipeError(r.error, raw, file);
  return r.data;
}

function recipeError(err: z.ZodError, raw: unknown, file: string): ConfigError {
  const issue = pickIssue(err.issues);
  const field = issue.path.map(String).join('.') || '(root)';
  return new ConfigError(describe(issue, raw), path.basename(file) === file ? file : file, field);
}

/**
 * Prefer the deepest issue of a union (the one that names a real field); a union's inner
 * issues have paths relative to the union, so the union's own path is put in front. For a
 * stage, the built-in stage schemas come first, so their issues win over the plugin-stage entry's.
 */
function pickIssue(issues: z.core.$ZodIssue[], prefix: PropertyKey[] = []): z.core.$ZodIssue {
  const first = issues[0];
  const at = [...prefix, ...first.path];
  if (first.code === 'invalid_union' && 'errors' in first && !('discriminator' in first && first.discriminator)) {
    const all = (first.errors as z.core.$ZodIssue[][]).flat();
    if (all.length) return pickIssue(all, at);
  }
  return { ...first, path: at } as z.core.$ZodIssue;
}

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const got = valueAt(raw, issue.path);
  const shown = got === undefined ? 'missing' : `got ${show(got)}`;
  switch (issue.code) {
    case 'invalid_value':
      return `${shown}; allowed values: ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator) {
        return `${shown}; allowed values: ${stageNames().join(', ')}`;
      }
      return `${issue.message} (${shown})`;
    case 'unrecognized_keys':
      return `unknown field(s) ${issue.keys.map(quoteName).join(', ')}`;
    default:
      return `${issue.message} (${shown})`;
  }
}

/** A value as JSON, but NaN and the infinities by name (JSON would print them as null). */
function show(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : (JSON.stringify(v) ?? String(v));
}

function stageNames(): string[] {
  return ['train', 'train-teacher', 'train-student', 'load-teacher', 'evaluate', 'certify', 'report'];
}

/** The value at path `p` inside parsed YAML/JSON (undefined where the path leaves the objects). */
export function valueAt(raw: unknown, p: PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
