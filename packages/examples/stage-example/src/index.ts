import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { definePlugin, pluginRegistry, writeFileAtomic, type DependencyContainer } from '@certkd/core';
import { asyncStage, type PipelineStage } from '@certkd/pipeline';

export const summaryStageOptions = z
  .object({
    stage: z.literal('summary-file'),
    /** File name inside the run directory. */
    file: z
      .string()
      .regex(/^[\w.-]+$/, 'a file name inside the run directory')
      .default('summary.json'),
  })
  .strict();

/**
 * 'summary-file': writes the models and results the stages before it produced to a JSON file
 * in the run directory, and logs where.
 */
export function summaryStage(o: z.output<typeof summaryStageOptions>): PipelineStage {
  return {
    run: (ctx, index) =>
      asyncStage(ctx, async (emit) => {
        const file = path.join(ctx.paths.root, o.file);
        fs.mkdirSync(ctx.paths.root, { recursive: true });
        writeFileAtomic(file, JSON.stringify({ stage: index + 1, models: [...ctx.models.keys()], results: ctx.results }, null, 1) + '\n');
        emit({ type: 'log', stage: 'summary-file', message: `summary of ${ctx.models.size} model(s) in ${file}` });
      }),
  };
}

/** Composition root: registers the 'summary-file' stage. */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(
    definePlugin({
      kind: 'stage',
      name: 'summary-file',
      description: 'write the models and results so far to a JSON file of the run directory (example stage plugin)',
      options: summaryStageOptions,
      create: (o): PipelineStage => summaryStage(o),
    }),
    '@certkd/example-stage',
  );
}
