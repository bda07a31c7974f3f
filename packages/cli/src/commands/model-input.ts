import * as fs from 'fs';
import { CertkdError, ConfigError, LoadedModel, ModelFormatError, Network, loadModel } from '@certkd/core';
import { OnnxInputInfo, loadOnnxModel, onnxToNetworkOrder } from '@certkd/interop';

export interface LoadedNet {
  network: Network;
  /** How ONNX-ordered values (VNN-LIB X_i) map to the network's NHWC input; absent for CertKD models. */
  onnxInput?: OnnxInputInfo;
}

/**
 * Run a model loader so that whatever goes wrong reading `file` ends as a CertkdError (exit 2,
 * one line naming the file) rather than a stack trace: the loaders raise ModelFormatError for
 * what they check, and anything they did not foresee (a RangeError from a corrupt size, a
 * tfjs failure) is reported the same way.
 */
export function guardModelLoad<T>(file: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof CertkdError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new ModelFormatError(`cannot be loaded: ${msg.split('\n')[0]}`, file);
  }
}

/** A CertKD model directory, validated (see loadModel). */
export function loadCertkdModel(file: string): LoadedModel {
  if (!fs.existsSync(file)) throw new ConfigError('model not found (give a CertKD model directory)', file);
  return guardModelLoad(file, () => loadModel(file));
}

/** A CertKD model directory or an .onnx file. */
export function loadNet(file: string): LoadedNet {
  if (!fs.existsSync(file)) throw new ConfigError('model not found (give a CertKD model directory or an .onnx file)', file);
  if (file.toLowerCase().endsWith('.onnx')) {
    const m = guardModelLoad(file, () => loadOnnxModel(file));
    return { network: m.network, onnxInput: m.input };
  }
  return { network: loadCertkdModel(file).network };
}

/** VNN-LIB X_i are in the ONNX input's order; for CertKD models they are NHWC already. */
export function toNetworkOrder(values: Float32Array, net: LoadedNet): Float32Array {
  return net.onnxInput ? onnxToNetworkOrder(values, net.onnxInput) : values;
}

/** Read an input point from JSON: a (nested) array of numbers in the network's input order. */
export function readInputJson(file: string, size: number): Float32Array {
  if (!fs.existsSync(file)) throw new ConfigError('input file not found', file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`not valid JSON: ${(e as Error).message}`, file);
  }
  const flat = (Array.isArray(raw) ? raw : [raw]).flat(Infinity as 1) as unknown[];
  if (!flat.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new ConfigError('every entry must be a finite number', file);
  if (flat.length !== size) throw new ConfigError(`holds ${flat.length} numbers but the model's input has ${size}`, file);
  return Float32Array.from(flat as number[]);
}
