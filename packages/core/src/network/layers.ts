/** Layer kinds of the network IR. Shapes are NHWC; feature maps [N, H, W, C], vectors [N, D]. */
export type ExplicitPadding = [[number, number], [number, number]];
export type Padding = 'same' | 'valid' | ExplicitPadding;

export interface NormalizeLayer {
  kind: 'normalize';
  /** Per-channel mean and std in pixel space; y = (x - mean) / std. */
  mean: number[];
  std: number[];
  name?: string;
}
export interface Conv2DLayer {
  kind: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  useBias: boolean;
  name?: string;
}
export interface DenseLayer {
  kind: 'dense';
  units: number;
  useBias: boolean;
  name?: string;
}
export interface BatchNormLayer {
  kind: 'batchnorm';
  epsilon: number;
  momentum: number;
  name?: string;
}
export interface ReluLayer {
  kind: 'relu';
  name?: string;
}
export interface FlattenLayer {
  kind: 'flatten';
  name?: string;
}
export interface AvgPoolLayer {
  kind: 'avgpool';
  poolSize: [number, number];
  strides: [number, number];
  padding: 'valid';
  name?: string;
}
/** An identity layer that names the activation passing through it (a feature tap). */
export interface TapLayer {
  kind: 'tap';
  name: string;
}

export type LayerSpec =
  | NormalizeLayer
  | Conv2DLayer
  | DenseLayer
  | BatchNormLayer
  | ReluLayer
  | FlattenLayer
  | AvgPoolLayer
  | TapLayer;

export type LayerKind = LayerSpec['kind'];

export const LAYER_KINDS: readonly LayerKind[] = [
  'normalize',
  'conv2d',
  'dense',
  'batchnorm',
  'relu',
  'flatten',
  'avgpool',
  'tap',
];

/** Architecture of a network: input shape (without batch) and the ordered layers. */
export interface NetworkSpec {
  /** [H, W, C] for images or [D] for vectors. */
  inputShape: number[];
  layers: LayerSpec[];
}

/** Parameter names each layer kind owns, with their shapes given the layer's input shape. */
export function paramShapes(layer: LayerSpec, inShape: number[]): Record<string, number[]> {
  switch (layer.kind) {
    case 'conv2d': {
      const cin = inShape[inShape.length - 1];
      const p: Record<string, number[]> = { kernel: [layer.kernelSize[0], layer.kernelSize[1], cin, layer.filters] };
      if (layer.useBias) p.bias = [layer.filters];
      return p;
    }
    case 'dense': {
      const p: Record<string, number[]> = { kernel: [inShape[inShape.length - 1], layer.units] };
      if (layer.useBias) p.bias = [layer.units];
      return p;
    }
    case 'batchnorm': {
      const c = inShape[inShape.length - 1];
      return { gamma: [c], beta: [c], movingMean: [c], movingVariance: [c] };
    }
    default:
      return {};
  }
}

/** Whether a parameter is trained by the optimiser (BatchNorm running statistics are not). */
export function isTrainableParam(name: string): boolean {
  return name !== 'movingMean' && name !== 'movingVariance';
}

/** Output shape (without batch) of a layer given its input shape. */
export function outputShape(layer: LayerSpec, inShape: number[]): number[] {
  switch (layer.kind) {
    case 'conv2d': {
      const [h, w] = inShape;
      const [kh, kw] = layer.kernelSize;
      const [sh, sw] = layer.strides;
      return [convOut(h, kh, sh, layer.padding, 0), convOut(w, kw, sw, layer.padding, 1), layer.filters];
    }
    case 'avgpool': {
      const [h, w, c] = inShape;
      return [
        Math.floor((h - layer.poolSize[0]) / layer.strides[0]) + 1,
        Math.floor((w - layer.poolSize[1]) / layer.strides[1]) + 1,
        c,
      ];
    }
    case 'dense':
      return [layer.units];
    case 'flatten':
      return [inShape.reduce((a, b) => a * b, 1)];
    default:
      return inShape.slice();
  }
}

function convOut(n: number, k: number, s: number, padding: Padding, axis: 0 | 1): number {
  if (padding === 'same') return Math.ceil(n / s);
  if (padding === 'valid') return Math.floor((n - k) / s) + 1;
  const [a, b] = padding[axis];
  return Math.floor((n + a + b - k) / s) + 1;
}

/** Explicit [top, bottom], [left, right] padding that a conv layer applies. */
export function explicitPadding(layer: Conv2DLayer, inShape: number[]): ExplicitPadding {
  if (layer.padding === 'valid') return [[0, 0], [0, 0]];
  if (Array.isArray(layer.padding)) return layer.padding;
  const pads = [0, 1].map((ax) => {
    const n = inShape[ax];
    const k = layer.kernelSize[ax];
    const s = layer.strides[ax];
    const out = Math.ceil(n / s);
    const total = Math.max((out - 1) * s + k - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
  });
  return [pads[0], pads[1]];
}
