import { z } from 'zod';
import { LayerSpec, NetworkSpec } from './layers';

/** Options every built-in architecture accepts. */
export const architectureOptions = z
  .object({
    /** BatchNorm after every conv/dense but the output layer (Shi et al. 2021). */
    batchnorm: z.boolean().default(true),
    /** Hidden widths (mlp only). */
    hidden: z.array(z.number().int().positive()).default([256, 256]),
  })
  .strict();
export type ArchitectureOptions = z.infer<typeof architectureOptions>;

/** Input description an architecture is built for. */
export interface InputInfo {
  /** [H, W, C] */
  shape: [number, number, number];
  classes: number;
  mean: number[];
  std: number[];
}

export interface ArchitectureBuilder {
  name: string;
  description: string;
  build(input: InputInfo, options: ArchitectureOptions): NetworkSpec;
}

const relu = (): LayerSpec => ({ kind: 'relu' });
const bn = (): LayerSpec => ({ kind: 'batchnorm', epsilon: 1e-5, momentum: 0.9 });

function conv(filters: number, k: number, s: number, padding: 'valid' | 'same' | number): LayerSpec {
  return {
    kind: 'conv2d',
    filters,
    kernelSize: [k, k],
    strides: [s, s],
    padding:
      typeof padding === 'number'
        ? [
            [padding, padding],
            [padding, padding],
          ]
        : padding,
    useBias: true,
  };
}

/** [linear, (bn), relu] blocks, then flatten/penultimate tap/head. */
function assemble(input: InputInfo, opts: ArchitectureOptions, convs: LayerSpec[], dense: number[]): NetworkSpec {
  const layers: LayerSpec[] = [{ kind: 'normalize', mean: input.mean, std: input.std }];
  const block = (l: LayerSpec) => {
    layers.push(l);
    if (opts.batchnorm) layers.push(bn());
    layers.push(relu());
  };
  convs.forEach(block);
  layers.push({ kind: 'flatten' });
  dense.forEach((units) => block({ kind: 'dense', units, useBias: true }));
  layers.push({ kind: 'tap', name: 'penultimate' });
  layers.push({ kind: 'dense', units: input.classes, useBias: true });
  return { inputShape: input.shape.slice(), layers };
}

export const ARCHITECTURES: readonly ArchitectureBuilder[] = [
  {
    name: 'cnn-small',
    description: 'conv 16 4x4 s2, conv 32 4x4 s1, dense 100, dense K (IBP literature small CNN)',
    build: (input, o) => assemble(input, o, [conv(16, 4, 2, 'valid'), conv(32, 4, 1, 'valid')], [100]),
  },
  {
    name: 'cnn-medium',
    description: 'conv 32 3x3, conv 32 4x4 s2, conv 64 3x3, conv 64 4x4 s2, dense 512, dense 512, dense K',
    build: (input, o) => assemble(input, o, [conv(32, 3, 1, 'valid'), conv(32, 4, 2, 'valid'), conv(64, 3, 1, 'valid'), conv(64, 4, 2, 'valid')], [512, 512]),
  },
  {
    name: 'cnn7',
    description: 'CNN7: convs 64, 64, 128 s2, 128, 128 (3x3, pad 1), dense 512, dense K; BN + ReLU after each',
    build: (input, o) => assemble(input, o, [conv(64, 3, 1, 1), conv(64, 3, 1, 1), conv(128, 3, 2, 1), conv(128, 3, 1, 1), conv(128, 3, 1, 1)], [512]),
  },
  {
    name: 'mlp',
    description: 'flatten, dense layers of the given hidden widths, dense K',
    build: (input, o) => assemble(input, o, [], o.hidden),
  },
];
