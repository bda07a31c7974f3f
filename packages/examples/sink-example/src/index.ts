import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { definePlugin, pluginRegistry, type DependencyContainer, type PipelineEvent } from '@certkd/core';
import type { EventWriter, PipelineSink } from '@certkd/pipeline';

export const eventTypesOptions = z
  .object({
    /** File name inside the run directory. */
    file: z
      .string()
      .regex(/^[\w.-]+$/, 'a file name inside the run directory')
      .default('event-types.txt'),
  })
  .strict();

/** Appends one line per event ("type" or "type stage") to a file of the run directory. */
class EventTypesWriter implements EventWriter {
  private readonly fd: number;
  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
  }
  write(e: PipelineEvent): void {
    fs.writeSync(this.fd, `${e.type}${'stage' in e ? ` ${e.stage}` : ''}\n`);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

/** Composition root: registers the 'event-types' sink. */
export function register(container: DependencyContainer): void {
  pluginRegistry(container).register(
    definePlugin({
      kind: 'sink',
      name: 'event-types',
      description: 'one line per event (type and stage) in a file of the run directory (example sink plugin)',
      options: eventTypesOptions,
      create: (o): PipelineSink => ({ open: (ctx) => new EventTypesWriter(path.join(ctx.paths.root, o.file)) }),
    }),
    '@certkd/example-sink',
  );
}
