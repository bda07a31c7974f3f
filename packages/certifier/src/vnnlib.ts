import * as path from 'path';
import { loadOnnxModel, loadVnnlib, onnxToNetworkOrder } from '@certkd/interop';
import type { OnnxInputInfo, VnnlibProperty } from '@certkd/interop';
import { CertkdError, ConfigError, ModelFormatError, PropertyFormatError } from '@certkd/core';
import type { Verdict } from './verdict';
import type { Property } from './property';
import { VerifyOptions, verifyProperty } from './verify';

/** VNN-COMP result words. */
export type VnncompWord = 'unsat' | 'sat' | 'timeout' | 'unknown';

export interface VnnlibResult {
  verdict: Verdict;
  result: VnncompWord;
  /** For 'sat': the counterexample `((X_0 v) ... (Y_0 v) ...)`, X in the ONNX input order. */
  counterexample?: string;
}

/** Inverse of onnxToNetworkOrder: network (NHWC flat) order back to the ONNX input's flat order. */
export function networkToOnnxOrder(values: Float32Array, input: OnnxInputInfo): Float32Array {
  if (input.layout !== 'nchw') return values.slice();
  const [, c, h, w] = input.onnxShape;
  if (values.length !== c * h * w) throw new ModelFormatError(`expected ${c * h * w} input values for input '${input.name}', got ${values.length}`);
  const out = new Float32Array(values.length);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = values[(y * w + x) * c + ch];
  return out;
}

/** The property in network input order. */
export function vnnlibToProperty(prop: VnnlibProperty, input: OnnxInputInfo): Property {
  return {
    boxes: prop.boxes.map((b) => ({ lower: onnxToNetworkOrder(b.lower, input), upper: onnxToNetworkOrder(b.upper, input) })),
    disjuncts: prop.outputConstraints,
  };
}

export function verdictWord(v: Verdict): VnncompWord {
  switch (v.kind) {
    case 'verified-complete':
    case 'verified-incomplete':
      return 'unsat';
    case 'falsified':
      return 'sat';
    case 'timeout':
      return 'timeout';
    default:
      return 'unknown';
  }
}

/** VNN-COMP counterexample text for a witness (network order) and its output. */
export function formatCounterexample(witness: Float32Array, output: Float32Array, input: OnnxInputInfo): string {
  const x = networkToOnnxOrder(witness, input);
  const parts = [...Array.from(x, (v, i) => `(X_${i} ${v})`), ...Array.from(output, (v, i) => `(Y_${i} ${v})`)];
  return `(${parts.join('\n')})`;
}

/** Thrown from the parser's interrupt hook when the time budget is spent. */
class BudgetSpent extends Error {}

/**
 * Run a file loader so that whatever goes wrong ends as a CertkdError naming the file (exit
 * 2): the loaders raise their own errors for what they check; anything unforeseen (a
 * RangeError from a corrupt size, say) is wrapped by `wrap`.
 */
function guardLoad<T>(load: () => T, wrap: (message: string) => CertkdError): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof CertkdError || e instanceof BudgetSpent) throw e;
    throw wrap(`cannot be read: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/**
 * Verify a VNN-LIB property of an ONNX model. Bad files raise the interop errors (exit code
 * 2). The time budget `timeoutS` starts when this function is called (or at `startMs`) and
 * covers reading both files: a property still being parsed when it runs out gives `timeout`.
 */
export function verifyVnnlib(onnxFile: string, vnnlibFile: string, opts: VerifyOptions = {}): VnnlibResult {
  const start = opts.startMs ?? Date.now();
  const timeoutS = opts.timeoutS ?? 60;
  if (!(timeoutS > 0)) throw new ConfigError(`timeoutS must be > 0, got ${timeoutS}`, undefined, 'timeoutS');
  const deadline = start + timeoutS * 1000;
  const timedOut = (): VnnlibResult => ({ verdict: { kind: 'timeout', method: 'none', time_s: (Date.now() - start) / 1000 }, result: 'timeout' });
  const interrupt = () => {
    if (Date.now() > deadline) throw new BudgetSpent('timeout');
  };
  const { network, input } = guardLoad(
    () => loadOnnxModel(onnxFile),
    (m) => new ModelFormatError(m, onnxFile),
  );
  let prop: VnnlibProperty;
  try {
    prop = guardLoad(
      () => loadVnnlib(vnnlibFile, { interrupt }),
      (m) => new PropertyFormatError(m, vnnlibFile),
    );
  } catch (e) {
    network.dispose();
    if (e instanceof BudgetSpent) return timedOut();
    throw e;
  }
  const D = network.inputShape.reduce((a, b) => a * b, 1);
  if (prop.inputCount !== D) {
    network.dispose();
    throw new ModelFormatError(`${path.basename(vnnlibFile)} declares ${prop.inputCount} inputs but the model has ${D}`, onnxFile);
  }
  let verdict: Verdict;
  try {
    verdict = verifyProperty(network, vnnlibToProperty(prop, input), { ...opts, timeoutS, startMs: start });
  } finally {
    network.dispose();
  }
  const result = verdictWord(verdict);
  return {
    verdict,
    result,
    ...(verdict.kind === 'falsified' ? { counterexample: formatCounterexample(verdict.witness, verdict.output, input) } : {}),
  };
}
