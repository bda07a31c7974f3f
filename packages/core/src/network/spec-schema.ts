import { z } from 'zod';
import { NetworkSpec } from './layers';
import { LAYER_KIND_MODULES } from './kinds/table';

const pos = z.number().int().positive();

/** zod schema of one layer of the IR (used to validate model files and recipes): each kind's module gives its own. */
export const layerSchema = z.discriminatedUnion(
  'kind',
  LAYER_KIND_MODULES.map((m) => m.schema) as unknown as [z.ZodObject<{ kind: z.ZodLiteral<string> }>, ...z.ZodObject<{ kind: z.ZodLiteral<string> }>[]],
);

export const networkSpecSchema: z.ZodType<NetworkSpec> = z
  .object({
    inputShape: z.array(pos).min(1).max(3),
    layers: z.array(layerSchema).min(1),
  })
  .strict() as unknown as z.ZodType<NetworkSpec>;
