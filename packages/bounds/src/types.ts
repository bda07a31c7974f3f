import * as tf from '@tensorflow/tfjs-core';
import type { BatchStatsMap, InputBox, LayerKind, LayerSpec, Network } from '@certkd/core';

/** Options shared by every bound method. */
export interface BoundOptions {
  /** BatchNorm statistics: 'eval' = running stats (default); 'train' = the given bnStats (required then). */
  mode?: 'eval' | 'train';
  bnStats?: BatchStatsMap;
  /** Bound the activation entering layer `end` (e.g. net.tapIndex('penultimate')); default = network output. */
  end?: number;
  /** Spec matrix C [N, M, K]: bound C·f(x) with final-layer elision (only valid when bounding the output). */
  spec?: tf.Tensor3D;
  /** Relaxations to use per layer kind; default: the built-in set (`defaultRelaxations()`). */
  relaxations?: RelaxationSet;
  /**
   * Called between layers, row chunks and optimisation steps; throw from it to abandon the
   * call (e.g. when a time budget is spent). Tensors made so far are released.
   */
  interrupt?: () => void;
  /**
   * Bytes the large intermediate tensors of one call may take (default DEFAULT_MEMORY_BUDGET):
   * rows are bounded in chunks that fit it (see memory.ts).
   */
  memoryBudget?: number;
  /** With a spec: bound only the lower side (upper is +Infinity); halves the rows. */
  lowerOnly?: boolean;
}

/** lower/upper: shape [N, ...activation shape], or [N, M] when spec is given. */
export interface Bounds {
  lower: tf.Tensor;
  upper: tf.Tensor;
}

/** An interval carried as centre and radius (IBP, METHODS 2), shape [N, ...activation shape]. */
export interface Interval {
  center: tf.Tensor;
  radius: tf.Tensor;
}

/** Lower and upper bounds of one activation, shape [N, ...activation shape]. */
export interface LowerUpper {
  lower: tf.Tensor;
  upper: tf.Tensor;
}

/** What a relaxation knows about the layer it relaxes. Shapes exclude the batch dimension. */
export interface LayerContext {
  net: Network;
  index: number;
  layer: LayerSpec;
  inShape: number[];
  outShape: number[];
  mode: 'eval' | 'train';
  bnStats?: BatchStatsMap;
}

/**
 * Result of propagating a linear lower bound backwards through one layer: for every
 * spec row m, sum(A_out[n, m] * out) >= sum(A[n, m] * in) + bias[n, m].
 */
export interface BackwardResult {
  /** [N, M, ...inShape] */
  A: tf.Tensor;
  /** [N, M], or null when the layer adds no constant. */
  bias: tf.Tensor | null;
}

/**
 * The contract of one relaxation: how one layer kind transforms intervals (IBP) and linear
 * lower bounds (CROWN family). Soundness invariant: for every input inside the given
 * bounds, the true output lies inside the returned interval, and the returned linear
 * bound never exceeds sum(A_out * out).
 */
export interface Relaxation {
  /** Plugin name (kebab-case). */
  readonly name: string;
  /** The layer kind this relaxation covers. */
  readonly layerKind: LayerKind;
  /** True when backward() needs bounds of the layer's input (non-linear layers). */
  readonly needsInputBounds: boolean;
  /** Interval propagation, centre/radius in and out. */
  interval(ctx: LayerContext, input: Interval): Interval;
  /**
   * Backward linear lower bound. `A` is [N, M, ...outShape]; `pre` the input bounds (given
   * when needsInputBounds); `alpha` free lower-line parameters in [0, 1] shaped
   * [N, M, ...inShape] (alpha-CROWN), only passed when initAlpha returned a tensor.
   */
  backward(ctx: LayerContext, A: tf.Tensor, pre?: LowerUpper, alpha?: tf.Tensor): BackwardResult;
  /**
   * Optional: initial free parameters in [0, 1] ([N, ...inShape]) for alpha-CROWN; any value
   * in [0, 1] must give a sound bound. Return null when the relaxation has none.
   */
  initAlpha?(ctx: LayerContext, pre: LowerUpper): tf.Tensor | null;
}

/** The relaxation to use for each layer kind. */
export type RelaxationSet = ReadonlyMap<LayerKind, Relaxation>;

/** Plugin kind 'bound-method': create() returns a BoundMethod. Names: ibp, crown-ibp, crown, alpha-crown. */
export interface BoundMethod {
  readonly name: string;
  compute(net: Network, box: InputBox, opts?: BoundOptions): Bounds;
}
