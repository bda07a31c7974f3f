import * as tf from '@tensorflow/tfjs-core';

/**
 * Data-parallel training splits a batch across workers, each with its own tfjs instance. A
 * `Collective` connects them: `sumAcross` adds a float vector over all workers (in rank order,
 * so every worker gets bit-identical totals).
 *
 * Code that reduces over the batch axis (BatchNorm statistics, batch means of losses and
 * regularisers) goes through the batch helpers below. Without an installed collective they are
 * the plain tfjs reductions; inside `withCollective` they reduce over the global batch, and
 * their gradients are exchanged too, so a loss computed by every worker equals the loss of the
 * whole batch and the summed gradients equal the single-worker gradients up to float rounding.
 */
export interface Collective {
  /** This worker's index, 0 ... size - 1. */
  readonly rank: number;
  readonly size: number;
  /** Rows of the global batch held here: [offset, offset + local batch). */
  readonly offset: number;
  readonly globalBatch: number;
  /** Element-wise sum of `values` over all workers; every worker must call it with the same length, in the same order. */
  sumAcross(values: Float32Array): Float32Array;
}

let current: Collective | undefined;

/** Run fn with `c` installed as the collective the batch helpers use. */
export function withCollective<T>(c: Collective | undefined, fn: () => T): T {
  const previous = current;
  current = c;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** The installed collective, if any. */
export function currentCollective(): Collective | undefined {
  return current;
}

/**
 * Sum of x over all workers (identity without a collective). Differentiable: every worker's
 * upstream gradient is summed as well, which is the gradient of the sum of the workers' losses.
 */
export function allReduceSum<T extends tf.Tensor>(x: T): T {
  const c = current;
  if (!c || c.size === 1) return x;
  const op = tf.customGrad(((t: tf.Tensor) => ({
    value: exchange(c, t),
    gradFunc: (dy: tf.Tensor) => exchange(c, dy),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}

function exchange(c: Collective, t: tf.Tensor): tf.Tensor {
  const summed = c.sumAcross(t.dataSync() as Float32Array);
  return tf.tensor(summed, t.shape, 'float32');
}

/** Mean of all elements of t, whose first axis is the batch, over the global batch. Scalar. */
export function batchMean(t: tf.Tensor): tf.Scalar {
  if (!current || current.size === 1) return tf.mean(t);
  const perRow = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const count = perRow * current.globalBatch;
  return tf.div(allReduceSum(tf.sum(t)), count) as tf.Scalar;
}

/** Sum of all elements of t, whose first axis is the batch, over the global batch. Scalar. */
export function batchSum(t: tf.Tensor): tf.Scalar {
  return allReduceSum(tf.sum(t));
}

/**
 * Per-channel mean and biased variance over `axes` (which include the batch axis 0), over the
 * global batch; the same two-pass formula as tf.moments.
 */
export function batchMoments(h: tf.Tensor, axes: number[]): { mean: tf.Tensor; variance: tf.Tensor } {
  if (!current || current.size === 1) return tf.moments(h, axes);
  if (!axes.includes(0)) throw new Error('batchMoments: axes must include the batch axis 0');
  const perRow = axes.filter((a) => a !== 0).reduce((n, a) => n * h.shape[a], 1);
  const count = perRow * current.globalBatch;
  const mean = tf.div(allReduceSum(tf.sum(h, axes)), count);
  const centred = tf.sub(h, mean);
  const variance = tf.div(allReduceSum(tf.sum(tf.square(centred), axes)), count);
  return { mean, variance };
}

/**
 * Uniform noise for a batch tensor of `shape` (first axis the local batch): inside a collective
 * it draws the global batch's noise and keeps this worker's rows, so every example gets the
 * same numbers as in single-worker training.
 */
export function batchRandomUniform(shape: number[], minval: number, maxval: number, seed: number): tf.Tensor {
  return drawForBatch(shape, (s) => tf.randomUniform(s, minval, maxval, 'float32', seed));
}

/** Normal noise for a batch tensor of `shape`, drawn for the global batch like batchRandomUniform. */
export function batchRandomNormal(shape: number[], mean: number, stdDev: number, seed: number): tf.Tensor {
  return drawForBatch(shape, (s) => tf.randomNormal(s, mean, stdDev, 'float32', seed));
}

function drawForBatch(shape: number[], draw: (shape: number[]) => tf.Tensor): tf.Tensor {
  const c = current;
  if (!c || c.size === 1) return draw(shape);
  const rest = shape.slice(1);
  return tf.tidy(() => tf.slice(draw([c.globalBatch, ...rest]), [c.offset, ...rest.map(() => 0)], shape));
}

/** Split a global batch of n rows over `size` workers as evenly as possible: [offset, count] per rank. */
export function splitBatch(n: number, size: number): [number, number][] {
  const base = Math.floor(n / size);
  const extra = n % size;
  const out: [number, number][] = [];
  let offset = 0;
  for (let r = 0; r < size; r++) {
    const count = base + (r < extra ? 1 : 0);
    out.push([offset, count]);
    offset += count;
  }
  return out;
}

/** Slots and barrier words a shared-memory collective needs, for `size` workers exchanging up to `maxFloats` at once. */
export function sharedCollectiveBuffer(size: number, maxFloats: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_WORDS * 4 + 2 * size * maxFloats * 4);
}

const CONTROL_WORDS = 4; // count, generation, abort, spare
const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
/** Polls of the barrier word before sleeping: most waits are shorter than a futex wake-up. */
const SPIN = 20_000;

/** Raised in every worker when another worker failed or a barrier timed out. */
export class CollectiveAbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CollectiveAbortedError';
  }
}

/**
 * A collective over shared memory between worker threads (Atomics barrier). Each exchange
 * writes this worker's values to its slot in one of two slot sets (alternating), meets the
 * others at one barrier, and sums all slots in rank order. A slot set is written again only
 * two exchanges later, after the next barrier, which every worker reaches only once it has
 * read the set. Waits are bounded by `timeoutMs`; `abort()` wakes and fails every waiting
 * worker, so a failure in one worker never leaves the others blocked.
 */
export class SharedMemoryCollective implements Collective {
  private readonly control: Int32Array;
  private readonly slots: Float32Array[][];
  private readonly maxFloats: number;
  private parity = 0;
  offset = 0;
  globalBatch = 0;

  constructor(
    buffer: SharedArrayBuffer,
    readonly rank: number,
    readonly size: number,
    private readonly timeoutMs = 120_000,
  ) {
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.maxFloats = (buffer.byteLength - CONTROL_WORDS * 4) / 4 / size / 2;
    if (!Number.isInteger(this.maxFloats) || this.maxFloats < 1) throw new Error('shared buffer too small for the collective');
    const slot = (set: number, r: number) => new Float32Array(buffer, CONTROL_WORDS * 4 + (set * size + r) * this.maxFloats * 4, this.maxFloats);
    this.slots = [0, 1].map((set) => Array.from({ length: size }, (_, r) => slot(set, r)));
  }

  sumAcross(values: Float32Array): Float32Array {
    const out = new Float32Array(values.length);
    for (let start = 0; start < values.length; start += this.maxFloats) {
      const chunk = values.subarray(start, Math.min(values.length, start + this.maxFloats));
      const set = this.slots[this.parity];
      this.parity ^= 1;
      set[this.rank].set(chunk);
      this.barrier();
      const dest = out.subarray(start, start + chunk.length);
      for (let r = 0; r < this.size; r++) {
        const slot = set[r];
        for (let i = 0; i < chunk.length; i++) dest[i] += slot[i];
      }
    }
    return out;
  }

  /** Make every worker's pending and future waits fail. */
  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
  }

  private barrier(): void {
    const c = this.control;
    if (Atomics.load(c, ABORT)) throw new CollectiveAbortedError('another training worker failed');
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.add(c, COUNT, 1) === this.size - 1) {
      Atomics.store(c, COUNT, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    for (let i = 0; i < SPIN && Atomics.load(c, GENERATION) === generation; i++);
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GENERATION) === generation) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(c, GENERATION, generation, left) === 'timed-out') {
        this.abort();
        throw new CollectiveAbortedError(`training worker ${this.rank} waited ${this.timeoutMs / 1000} s for the others`);
      }
    }
    if (Atomics.load(c, ABORT)) throw new CollectiveAbortedError('another training worker failed');
  }
}
