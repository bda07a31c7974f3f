/**
 * Layer kinds of the network IR. Shapes are NHWC; feature maps [N, H, W, C], vectors [N, D].
 * Each kind is one module in ./kinds (spec type, schema, shapes, parameters, forward pass,
 * interval propagation), looked up in the table of ./kinds/table.ts.
 */
import { LAYER_KIND_MODULES, layerKindModule, type LayerKind, type LayerSpec } from './kinds/table';

export type { LayerKind, LayerSpec } from './kinds/table';
export type { NormalizeLayer } from './kinds/normalize';
export type { Conv2DLayer, ExplicitPadding, Padding } from './kinds/conv2d';
export type { DenseLayer } from './kinds/dense';
export type { BatchNormLayer } from './kinds/batchnorm';
export type { ReluLayer } from './kinds/relu';
export type { FlattenLayer } from './kinds/flatten';
export type { AvgPoolLayer } from './kinds/avgpool';
export type { TapLayer } from './kinds/tap';
export { explicitPadding } from './kinds/conv2d';
export { LAYER_KIND_MODULES, layerKindModule, defineLayerKind, channelShape } from './kinds';
export type { CentreRadius, ForwardContext, LayerContext, LayerKindModule } from './kinds';

/** The layer kinds, in the table's order. */
export const LAYER_KINDS: readonly LayerKind[] = LAYER_KIND_MODULES.map((m) => m.kind);

/** Architecture of a network: input shape (without batch) and the ordered layers. */
export interface NetworkSpec {
  /** [H, W, C] for images or [D] for vectors. */
  inputShape: number[];
  layers: LayerSpec[];
}

/** Parameter names each layer kind owns, with their shapes given the layer's input shape. */
export function paramShapes(layer: LayerSpec, inShape: number[]): Record<string, number[]> {
  return layerKindModule(layer.kind).paramShapes?.(layer, inShape) ?? {};
}

/** Whether a parameter is trained by the optimiser (BatchNorm running statistics are not). */
export function isTrainableParam(name: string): boolean {
  return name !== 'movingMean' && name !== 'movingVariance';
}

/** Output shape (without batch) of a layer given its input shape. */
export function outputShape(layer: LayerSpec, inShape: number[]): number[] {
  return layerKindModule(layer.kind).outputShape(layer, inShape);
}
