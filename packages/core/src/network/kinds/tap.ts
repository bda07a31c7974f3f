import { z } from 'zod';
import { defineLayerKind } from './layer-kind';

/** An identity layer that names the activation passing through it (a feature tap). */
export interface TapLayer {
  kind: 'tap';
  name: string;
}

export const tapKind = defineLayerKind<TapLayer>({
  kind: 'tap',
  schema: z.object({ kind: z.literal('tap'), name: z.string().min(1) }).strict(),
  outputShape: (_layer, s) => s.slice(),
  forward: (_layer, h) => h,
  interval: (_layer, input) => input,
});
