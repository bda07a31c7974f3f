import type * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { AffineBn, BatchStats, BatchStatsMap, ForwardOptions } from '../network';

/** An interval carried as centre and radius, [N, ...activation shape]. */
export interface CentreRadius {
  centre: tf.Tensor;
  radius: tf.Tensor;
}

/** What a layer kind's functions see of the network around layer `index`. */
export interface LayerContext {
  index: number;
  /** Input shape of the layer, without the batch dimension. */
  inShape: number[];
  /** The layer's parameter `name`. */
  param(name: string): tf.Tensor;
  /** A BatchNorm layer as a per-channel affine map, with its running statistics or the given ones. */
  bnAffine(stats?: BatchStats): AffineBn;
  /** Train-mode statistics (interval passes in train mode; forward passes read opts instead). */
  bnStats?: BatchStatsMap;
}

export interface ForwardContext extends LayerContext {
  opts: ForwardOptions;
  /** Where train-mode BatchNorm layers record the statistics they used when opts.collectStats. */
  collected?: BatchStatsMap;
}

/**
 * One layer kind of the network IR, in one module: the spec's schema, its shape rule and
 * parameters, the forward pass and interval propagation (IBP). The table in ./table.ts maps
 * each kind to its module (as tfjs maps op names to kernels); Network, inferShapes, the spec
 * schema and the certified losses' interval trace look kinds up there. The linear relaxation
 * of a kind is the relaxation plugin named after it in @certkd/bounds, and its ONNX mapping is
 * the entry for it in @certkd/interop's export and import tables.
 */
export interface LayerKindModule<L extends { kind: string } = { kind: string }> {
  readonly kind: L['kind'];
  /** zod schema of the layer's spec (model files, recipes); a strict object with `kind` as a literal. */
  readonly schema: z.ZodType<L>;
  /** Whether the kind holds a kernel (the weights L1 regularises; the first one marks the input radius of Shi et al.'s tightness term). */
  readonly hasKernel?: boolean;
  /** Throws a ConfigError when the layer cannot take an input of this shape. */
  checkInput?(layer: L, inShape: number[], index: number): void;
  /** Output shape (without batch) given the input shape. */
  outputShape(layer: L, inShape: number[]): number[];
  /** Parameter names with their shapes given the input shape (none when absent). */
  paramShapes?(layer: L, inShape: number[]): Record<string, number[]>;
  forward(layer: L, h: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Interval propagation: an interval containing every output for inputs in `input`. */
  interval(layer: L, input: CentreRadius, ctx: LayerContext): CentreRadius;
}

/** Helper for type inference: `defineLayerKind<MyLayer>({...})`. */
export function defineLayerKind<L extends { kind: string }>(m: LayerKindModule<L>): LayerKindModule<L> {
  return m;
}

/** [1, 1, 1, c] for a feature map, [1, c] for a vector: per-channel constants broadcast against x. */
export function channelShape(x: tf.Tensor, c: number): number[] {
  return x.rank === 4 ? [1, 1, 1, c] : [1, c];
}
