import type { Network } from '@certkd/core';

/**
 * Memory planning of bound computations. The large tensors of the CROWN family are the A
 * matrices ([N, rows, ...activation shape]) of a backward pass; their size is known from the
 * layer shapes before anything is allocated, so rows are bounded in chunks that fit a byte
 * budget, and a caller can see beforehand whether a method fits at all (the wasm heap of
 * tfjs is at most 4 GiB; running past it faults the whole backend).
 */

/** Default bytes the large temporaries of one bound call may take. */
export const DEFAULT_MEMORY_BUDGET = 512 * 2 ** 20;

/** Live A-sized tensors of one backward step (A, the next A, the relaxation's temporaries). */
export const BACKWARD_FACTOR = 6;
/** A-sized tensors a differentiable pass keeps per layer for its gradient (tape) in alpha-CROWN. */
export const TAPE_FACTOR = 5;
/** Per-parameter copies in alpha-CROWN's Adam loop (value, two moments, gradient, best). */
export const ADAM_FACTOR = 5;

const F32 = 4;

/** The widest activation (floats per sample and row) among the inputs of layers [0, end] and the output of layer end - 1. */
export function widestActivation(net: Network, end = net.layers.length): number {
  let w = 1;
  for (let i = 0; i <= end; i++) w = Math.max(w, net.widthAt(i));
  return w;
}

/** Peak bytes of one (non-differentiable) backward pass of `rows` rows for n samples through layers [0, end). */
export function backwardBytes(net: Network, n: number, rows: number, end = net.layers.length): number {
  return n * rows * widestActivation(net, end) * F32 * BACKWARD_FACTOR;
}

/** Bytes of one differentiable backward pass with free slopes (alpha-CROWN) for `rows` rows: the tape of every layer plus the slopes' optimiser state. */
export function optimisedPassBytes(net: Network, n: number, rows: number, end = net.layers.length, sharedSlopes = false): number {
  let tape = 0;
  let slopes = 0;
  for (let i = 0; i < end; i++) {
    tape += net.widthAt(i);
    if (net.layers[i].kind === 'relu') slopes += net.widthAt(i);
  }
  const slopeRows = sharedSlopes ? 1 : rows;
  return n * (rows * tape * F32 * TAPE_FACTOR + slopeRows * slopes * F32 * ADAM_FACTOR) + backwardBytes(net, n, rows, end);
}

/** Most rows whose cost (bytes per row) fits the budget; 0 when not even one does. */
export function rowsThatFit(bytesPerRow: number, budget: number): number {
  if (!(bytesPerRow > 0)) return Number.MAX_SAFE_INTEGER;
  return Math.max(0, Math.floor(budget / bytesPerRow));
}

/**
 * Bytes one row of a bound method needs at least for n samples (the methods chunk rows, so
 * this is the smallest working set): 0 for IBP, which has no rows.
 */
export function methodRowBytes(net: Network, method: string, n: number, end = net.layers.length): number {
  switch (method) {
    case 'ibp':
      return 0;
    case 'alpha-crown':
      return optimisedPassBytes(net, n, 1, end);
    default:
      return backwardBytes(net, n, 1, end);
  }
}

/** Bytes of IBP for n samples (a few activation-sized tensors). */
export function intervalBytes(net: Network, n: number, end = net.layers.length): number {
  return n * widestActivation(net, end) * F32 * 8;
}

/** Whether a method can run for n samples within the budget (with one row per chunk at worst). */
export function methodFits(net: Network, method: string, n: number, budget = DEFAULT_MEMORY_BUDGET): boolean {
  return intervalBytes(net, n) + methodRowBytes(net, method, n) <= budget;
}

/**
 * Multiply-adds of one backward pass of one row through layers [0, end): for each layer,
 * the input width times the work per input (the output width for a dense layer, kernel area
 * times output channels for a convolution, a few for element-wise layers).
 */
export function backwardFlopsPerRow(net: Network, end = net.layers.length): number {
  let f = 0;
  for (let i = 0; i < end; i++) {
    const layer = net.layers[i];
    if (layer.kind === 'dense') f += net.widthAt(i) * layer.units;
    else if (layer.kind === 'conv2d') f += net.widthAt(i) * layer.kernelSize[0] * layer.kernelSize[1] * layer.filters;
    else f += 4 * net.widthAt(i);
  }
  return f;
}

/** Multiply-adds one optimisation step over a chunk of rows may take, so that the clock (checked between steps) is seen often. */
export const FLOPS_PER_STEP = 1e8;
