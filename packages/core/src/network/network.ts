import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ModelFormatError } from '../errors/errors';
import { SeededRng } from '../rng/seeded-rng';
import { BatchNormLayer, LayerSpec, NetworkSpec, isTrainableParam, paramShapes } from './layers';
import { layerKindModule } from './kinds/table';
import type { LayerContext } from './kinds/layer-kind';
export { convPad } from './kinds/conv2d';

export type ForwardMode = 'train' | 'eval';

/** Per-channel statistics of one BatchNorm layer, keyed by layer index. */
export interface BatchStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}
export type BatchStatsMap = Map<number, BatchStats>;

export interface ForwardOptions {
  /** train: BatchNorm normalises with batch statistics (or `bnStats`); eval: running statistics. */
  mode: ForwardMode;
  /**
   * Train mode only: reuse these statistics instead of the batch's own (METHODS 9.3: the
   * adversarial and bound passes reuse the clean batch's statistics).
   */
  bnStats?: BatchStatsMap;
  /** Collect the batch statistics computed in train mode. */
  collectStats?: boolean;
  /** Stop after layer `end - 1` (exclusive end index). */
  end?: number;
  /** Start at layer `start`; the input is then that layer's input. */
  start?: number;
}

export interface ForwardResult {
  output: tf.Tensor;
  /** Activations at named taps. */
  taps: Record<string, tf.Tensor>;
  /** Batch statistics, when collected. */
  bnStats: BatchStatsMap;
}

export type InitScheme = 'default' | 'ibp';

/** Per-channel scale and shift of a BatchNorm layer viewed as an affine map. */
export interface AffineBn {
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

/**
 * A feed-forward network in CertKD's IR: the spec plus one tf.Variable per parameter.
 * Bounds, attacks, losses and the certifier all work on this type.
 */
export class Network {
  /** Input shape of each layer (index i) and, at index layers.length, the output shape. */
  readonly shapes: number[][];
  private readonly vars: Map<string, tf.Variable>;

  private constructor(
    readonly spec: NetworkSpec,
    vars: Map<string, tf.Variable>,
  ) {
    this.shapes = inferShapes(spec);
    this.vars = vars;
  }

  get layers(): readonly LayerSpec[] {
    return this.spec.layers;
  }

  get inputShape(): number[] {
    return this.spec.inputShape;
  }

  get outputShape(): number[] {
    return this.shapes[this.shapes.length - 1];
  }

  /** Build a network with freshly initialised parameters (values drawn from `rng`). */
  static create(spec: NetworkSpec, rng: SeededRng, init: InitScheme = 'default'): Network {
    const shapes = inferShapes(spec);
    const values = new Map<string, tf.Tensor>();
    const lastLinear = lastLinearIndex(spec.layers);
    spec.layers.forEach((layer, i) => {
      const ps = paramShapes(layer, shapes[i]);
      for (const [name, shape] of Object.entries(ps)) {
        values.set(paramKey(i, name), tf.tensor(initValues(name, shape, rng, init, i === lastLinear), shape));
      }
    });
    return Network.fromTensors(spec, values);
  }

  /** Wrap given parameter tensors (which it takes ownership of) after checking their shapes. */
  static fromTensors(spec: NetworkSpec, values: Map<string, tf.Tensor>, source = 'network'): Network {
    const shapes = inferShapes(spec);
    const vars = new Map<string, tf.Variable>();
    const expected = new Set<string>();
    try {
      spec.layers.forEach((layer, i) => {
        for (const [name, shape] of Object.entries(paramShapes(layer, shapes[i]))) {
          const key = paramKey(i, name);
          expected.add(key);
          const v = values.get(key);
          if (!v) throw new ModelFormatError(`missing parameter '${key}' (layer ${i}, ${layer.kind})`, source);
          if (!sameShape(v.shape, shape)) {
            throw new ModelFormatError(`parameter '${key}' has shape [${v.shape}] but layer ${i} (${layer.kind}) needs [${shape}]`, source);
          }
          if (v.dtype !== 'float32') throw new ModelFormatError(`parameter '${key}' has dtype ${v.dtype}, expected float32`, source);
          vars.set(key, tf.variable(v, isTrainableParam(name), `${key}_${uid()}`));
        }
      });
      for (const key of values.keys()) {
        if (!expected.has(key)) throw new ModelFormatError(`unexpected parameter '${key}'`, source);
      }
    } catch (e) {
      vars.forEach((v) => v.dispose());
      throw e;
    } finally {
      values.forEach((v) => v.dispose());
    }
    return new Network(spec, vars);
  }

  /** A deep copy with its own variables. */
  clone(): Network {
    const values = new Map<string, tf.Tensor>();
    this.vars.forEach((v, k) => values.set(k, v.clone()));
    return Network.fromTensors(structuredClone(this.spec), values);
  }

  param(layer: number, name: string): tf.Variable {
    const v = this.vars.get(paramKey(layer, name));
    if (!v) throw new ConfigError(`layer ${layer} (${this.spec.layers[layer]?.kind}) has no parameter '${name}'`);
    return v;
  }

  hasParam(layer: number, name: string): boolean {
    return this.vars.has(paramKey(layer, name));
  }

  /** All parameters keyed 'layers.<i>.<name>', in layer order. */
  namedParams(): [string, tf.Variable][] {
    return [...this.vars.entries()];
  }

  trainableVariables(): tf.Variable[] {
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  /** Conv and dense kernels (the weights regularised by L1 and re-initialised by IBP init). */
  kernels(): tf.Variable[] {
    return this.spec.layers.flatMap((l, i) => (layerKindModule(l.kind).hasKernel ? [this.param(i, 'kernel')] : []));
  }

  /** Copy parameter values from another network of the same architecture. */
  assign(from: Network): void {
    for (const [k, v] of from.vars) {
      const mine = this.vars.get(k);
      if (!mine || !sameShape(mine.shape, v.shape)) throw new ConfigError(`cannot assign parameter ${k}: architectures differ`);
      mine.assign(v);
    }
  }

  /** Index of the layer that holds the named tap. */
  tapIndex(name: string): number {
    const i = this.spec.layers.findIndex((l) => l.kind === 'tap' && l.name === name);
    if (i >= 0) return i;
    if (name === 'penultimate') {
      const j = lastLinearIndex(this.spec.layers);
      if (j >= 0) return j; // the input of the last dense layer
    }
    const names = this.spec.layers.flatMap((l) => (l.kind === 'tap' ? [l.name] : []));
    throw new ConfigError(`no feature tap named '${name}' (taps: ${names.join(', ') || 'none'}; 'penultimate' is always available)`);
  }

  /** Width (flattened size) of the activation entering layer `i`. */
  widthAt(i: number): number {
    return this.shapes[i].reduce((a, b) => a * b, 1);
  }

  /** BatchNorm layer i as a per-channel affine map, with running stats or the given ones. */
  bnAffine(i: number, stats?: BatchStats): AffineBn {
    const layer = this.spec.layers[i] as BatchNormLayer;
    return tf.tidy(() => {
      const mean = stats ? stats.mean : this.param(i, 'movingMean');
      const variance = stats ? stats.variance : this.param(i, 'movingVariance');
      const scale = tf.div(this.param(i, 'gamma'), tf.sqrt(tf.add(variance, layer.epsilon))) as tf.Tensor1D;
      const shift = tf.sub(this.param(i, 'beta'), tf.mul(mean, scale)) as tf.Tensor1D;
      return { scale, shift };
    });
  }

  /**
   * BatchNorm layer i (eval mode) as its per-channel scale gamma / sqrt(var + eps) and shift
   * beta - mean * scale in float64 from the stored parameters, with shiftTerms = |beta| +
   * |mean * scale|: the shift is computed from two terms that may cancel, so a rounding error
   * analysis must scale with them, not with the shift's value.
   */
  bnAffine64(i: number): { scale: Float64Array; shift: Float64Array; shiftTerms: Float64Array } {
    const eps = (this.spec.layers[i] as BatchNormLayer).epsilon;
    const gamma = this.param(i, 'gamma').dataSync();
    const beta = this.param(i, 'beta').dataSync();
    const mean = this.param(i, 'movingMean').dataSync();
    const variance = this.param(i, 'movingVariance').dataSync();
    const C = gamma.length;
    const scale = new Float64Array(C);
    const shift = new Float64Array(C);
    const shiftTerms = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
      shift[c] = beta[c] - mean[c] * scale[c];
      shiftTerms[c] = Math.abs(beta[c]) + Math.abs(mean[c] * scale[c]);
    }
    return { scale, shift, shiftTerms };
  }

  /** Run layers [start, end) on x. Returns the output, tap activations and batch statistics. */
  forward(x: tf.Tensor, opts: ForwardOptions = { mode: 'eval' }): ForwardResult {
    const start = opts.start ?? 0;
    const end = opts.end ?? this.spec.layers.length;
    const taps: Record<string, tf.Tensor> = {};
    const bnStats: BatchStatsMap = new Map();
    const penultimate = lastLinearIndex(this.spec.layers);
    let h = x;
    for (let i = start; i < end; i++) {
      const layer = this.spec.layers[i];
      if (i === penultimate && !('penultimate' in taps)) taps.penultimate = h;
      if (layer.kind === 'tap') {
        taps[layer.name] = h;
        continue;
      }
      h = this.applyLayer(i, h, opts, bnStats);
    }
    return { output: h, taps, bnStats };
  }

  /** Logits in eval mode (convenience for attacks and evaluation). */
  predict(x: tf.Tensor): tf.Tensor2D {
    return this.forward(x, { mode: 'eval' }).output as tf.Tensor2D;
  }

  /** Apply layer i to h (its kind's forward function). */
  applyLayer(i: number, h: tf.Tensor, opts: ForwardOptions, bnStats?: BatchStatsMap): tf.Tensor {
    const layer = this.spec.layers[i];
    return layerKindModule(layer.kind).forward(layer, h, { ...this.layerContext(i), opts, collected: bnStats });
  }

  /** What the functions of layer i's kind see of this network (see LayerKindModule); `bnStats` for train-mode interval passes. */
  layerContext(i: number, bnStats?: BatchStatsMap): LayerContext {
    return {
      index: i,
      inShape: this.shapes[i],
      param: (name) => this.param(i, name),
      bnAffine: (stats) => this.bnAffine(i, stats),
      ...(bnStats ? { bnStats } : {}),
    };
  }

  /**
   * Update BatchNorm running statistics from a train-mode pass (momentum as in Keras:
   * running = momentum * running + (1 - momentum) * batch; variance unbiased as in PyTorch).
   */
  updateRunningStats(stats: BatchStatsMap, batchSize: number): void {
    tf.tidy(() => {
      for (const [i, s] of stats) {
        const layer = this.spec.layers[i] as BatchNormLayer;
        const m = layer.momentum;
        const n = this.bnElementsPerChannel(i, batchSize);
        const unbiased = n > 1 ? tf.mul(s.variance, n / (n - 1)) : s.variance;
        const rm = this.param(i, 'movingMean');
        const rv = this.param(i, 'movingVariance');
        rm.assign(tf.add(tf.mul(rm, m), tf.mul(s.mean, 1 - m)));
        rv.assign(tf.add(tf.mul(rv, m), tf.mul(unbiased, 1 - m)));
      }
    });
  }

  /** Number of elements per channel that a BatchNorm layer's statistics average over. */
  bnElementsPerChannel(i: number, batch: number): number {
    const s = this.shapes[i];
    return s.length === 3 ? batch * s[0] * s[1] : batch;
  }

  paramCount(): number {
    let n = 0;
    this.vars.forEach((v) => (n += v.trainable ? v.size : 0));
    return n;
  }

  dispose(): void {
    this.vars.forEach((v) => v.dispose());
    this.vars.clear();
  }
}

export function paramKey(layer: number, name: string): string {
  return `layers.${layer}.${name}`;
}

/** Input shape of every layer plus the final output shape; throws ConfigError if inconsistent. */
export function inferShapes(spec: NetworkSpec): number[][] {
  const shapes: number[][] = [spec.inputShape.slice()];
  let s = spec.inputShape.slice();
  spec.layers.forEach((layer, i) => {
    let kind;
    try {
      kind = layerKindModule(layer.kind);
    } catch (e) {
      throw new ConfigError(`layer ${i}: ${(e as Error).message}`);
    }
    kind.checkInput?.(layer, s, i);
    s = kind.outputShape(layer, s);
    if (s.some((d) => !(d > 0))) throw new ConfigError(`layer ${i} (${layer.kind}) produces an empty output [${s}]`);
    shapes.push(s);
  });
  return shapes;
}

/** Number of trainable parameters a spec defines, without allocating them. */
export function specParamCount(spec: NetworkSpec): number {
  const shapes = inferShapes(spec);
  let n = 0;
  spec.layers.forEach((layer, i) => {
    for (const [name, shape] of Object.entries(paramShapes(layer, shapes[i]))) {
      if (isTrainableParam(name)) n += shape.reduce((a, b) => a * b, 1);
    }
  });
  return n;
}

/** Index of the last dense layer (the head g of METHODS 7), or -1. */
export function lastLinearIndex(layers: readonly LayerSpec[]): number {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i].kind === 'dense') return i;
  return -1;
}

function initValues(name: string, shape: number[], rng: SeededRng, init: InitScheme, isLast: boolean): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (name === 'gamma' || name === 'movingVariance') return out.fill(1);
  if (name !== 'kernel') return out; // biases, beta, running mean: zero
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  // Shi et al. 2021 IBP init: N(0, (sqrt(2 pi) / fan_in)^2) for every layer but the last;
  // otherwise He-normal, which keeps activations at unit scale through ReLUs.
  const sigma = init === 'ibp' && !isLast ? Math.sqrt(2 * Math.PI) / fanIn : Math.sqrt(2 / fanIn);
  for (let k = 0; k < n; k++) out[k] = rng.normal() * sigma;
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

let counter = 0;
function uid(): number {
  return counter++;
}
