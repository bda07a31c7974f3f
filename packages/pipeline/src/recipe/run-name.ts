import { z } from 'zod';
import { ConfigError } from '@certkd/core';

/**
 * A run name is one safe path component: it starts with a letter or digit and holds only
 * letters, digits, '.', '_' and '-'. So '.', '..', absolute paths and separators are refused,
 * and runs/<name> always lies strictly inside the runs folder.
 */
export const RUN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Longest run name (a file name on every supported file system, with room for temp suffixes). */
export const RUN_NAME_MAX = 100;
const RUN_NAME_HINT = `a single folder name: a letter or digit, then letters, digits, ".", "_" and "-" (at most ${RUN_NAME_MAX})`;

/** The recipe's `name` field. */
export const runNameSchema = z.string().max(RUN_NAME_MAX, RUN_NAME_HINT).regex(RUN_NAME_PATTERN, RUN_NAME_HINT);

/** A model's name: its folder runs/<run>/models/<model>, so one safe path component too. */
export const artifactNameSchema = runNameSchema;

/** Refuse a run name that is not one safe path component (exit 2, naming `file` and `field`). */
export function checkRunName(name: unknown, file: string | undefined, field: string): string {
  if (typeof name !== 'string' || name.length > RUN_NAME_MAX || !RUN_NAME_PATTERN.test(name)) {
    throw new ConfigError(`got ${JSON.stringify(name)}; use ${RUN_NAME_HINT}`, file, field);
  }
  return name;
}
