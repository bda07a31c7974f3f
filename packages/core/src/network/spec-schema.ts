import { z } from 'zod';
import { NetworkSpec } from './layers';

const pos = z.number().int().positive();
const pair = z.tuple([pos, pos]);
const padPair = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
const name = z.string().min(1).optional();

/** zod schema of one layer of the IR (used to validate model files and recipes). */
export const layerSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('normalize'), mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1), name }).strict(),
  z
    .object({
      kind: z.literal('conv2d'),
      filters: pos,
      kernelSize: pair,
      strides: pair,
      padding: z.union([z.literal('same'), z.literal('valid'), z.tuple([padPair, padPair])]),
      useBias: z.boolean(),
      name,
    })
    .strict(),
  z.object({ kind: z.literal('dense'), units: pos, useBias: z.boolean(), name }).strict(),
  z.object({ kind: z.literal('batchnorm'), epsilon: z.number().positive(), momentum: z.number().min(0).max(1), name }).strict(),
  z.object({ kind: z.literal('relu'), name }).strict(),
  z.object({ kind: z.literal('flatten'), name }).strict(),
  z.object({ kind: z.literal('avgpool'), poolSize: pair, strides: pair, padding: z.literal('valid'), name }).strict(),
  z.object({ kind: z.literal('tap'), name: z.string().min(1) }).strict(),
]);

export const networkSpecSchema: z.ZodType<NetworkSpec> = z
  .object({
    inputShape: z.array(pos).min(1).max(3),
    layers: z.array(layerSchema).min(1),
  })
  .strict() as unknown as z.ZodType<NetworkSpec>;
