import * as fs from 'fs';
import { BackendChoice, ConfigError, Network, loadBackend, loadModel } from '@certkd/core';
import { loadOnnx } from '@certkd/interop';

/** Load a model given as a CertKD model directory or an .onnx file. */
export function loadAnyModel(file: string): Network {
  if (!fs.existsSync(file)) throw new ConfigError('model not found (give a CertKD model directory or an .onnx file)', file);
  return file.toLowerCase().endsWith('.onnx') ? loadOnnx(file) : loadModel(file).network;
}

export async function useBackend(name: string | undefined, quiet = false): Promise<void> {
  const b = await loadBackend((name ?? 'auto') as BackendChoice);
  if (!quiet) process.stderr.write(`certkd: backend ${b.name} (${b.detail})\n`);
}

export function parseNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got '${v}'`, undefined, flag);
  return n;
}
