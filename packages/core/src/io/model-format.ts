import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ModelFormatError } from '../errors/errors';
import { Network } from '../network/network';
import { networkSpecSchema } from '../network/spec-schema';
import { writeDirAtomic } from './atomic';

export const MODEL_FORMAT = 'certkd-model';
export const MODEL_FORMAT_VERSION = 1;

const weightEntry = z.object({ name: z.string().min(1), shape: z.array(z.number().int().nonnegative()), dtype: z.string() }).strict();
const modelJsonSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    formatVersion: z.literal(MODEL_FORMAT_VERSION),
    architecture: networkSpecSchema,
    weightsManifest: z.array(z.object({ paths: z.array(z.string().min(1)).min(1), weights: z.array(weightEntry) }).strict()).length(1),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type ModelMetadata = Record<string, unknown>;

/** Save a network as a directory holding model.json and weights.bin (little-endian float32), atomically. */
export function saveModel(net: Network, dir: string, metadata: ModelMetadata = {}): void {
  const params = net.namedParams();
  const weights = params.map(([name, v]) => ({ name, shape: v.shape.slice(), dtype: 'float32' }));
  const total = params.reduce((n, [, v]) => n + v.size, 0);
  const buf = new Float32Array(total);
  let off = 0;
  for (const [, v] of params) {
    buf.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  const json = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    architecture: net.spec,
    weightsManifest: [{ paths: ['weights.bin'], weights }],
    metadata,
  };
  writeDirAtomic(dir, (tmp) => {
    fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(json, null, 2));
    fs.writeFileSync(path.join(tmp, 'weights.bin'), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  });
}

export interface LoadedModel {
  network: Network;
  metadata: ModelMetadata;
}

/** Load and validate a model directory (or its model.json). Bad files raise ModelFormatError naming the file. */
export function loadModel(dirOrJson: string): LoadedModel {
  const jsonFile = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, 'model.json');
  const dir = path.dirname(path.resolve(jsonFile));
  if (!fs.existsSync(jsonFile)) throw new ModelFormatError('model.json not found (expected a CertKD model directory)', jsonFile);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  } catch (e) {
    throw new ModelFormatError(`not valid JSON (${(e as Error).message})`, jsonFile);
  }
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFormatError(`field '${issue.path.join('.') || '(root)'}': ${issue.message}`, jsonFile);
  }
  const m = parsed.data;
  const group = m.weightsManifest[0];
  const chunks: Buffer[] = [];
  for (const p of group.paths) {
    const full = path.resolve(dir, p);
    if (path.isAbsolute(p) || !full.startsWith(dir + path.sep)) {
      throw new ModelFormatError(`weights path '${p}' leaves the model directory`, jsonFile);
    }
    if (!fs.existsSync(full)) throw new ModelFormatError(`weights file '${p}' not found`, jsonFile);
    chunks.push(fs.readFileSync(full));
  }
  const bytes = Buffer.concat(chunks);
  let need = 0;
  for (const w of group.weights) {
    if (w.dtype !== 'float32') throw new ModelFormatError(`weight '${w.name}' has dtype '${w.dtype}', only float32 is supported`, jsonFile);
    need += w.shape.reduce((a, b) => a * b, 1) * 4;
  }
  if (bytes.length !== need) {
    throw new ModelFormatError(`weights hold ${bytes.length} bytes but the manifest describes ${need}`, path.join(dir, group.paths[0]));
  }
  const aligned = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const values = new Map<string, tf.Tensor>();
  let off = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (values.has(w.name)) throw new ModelFormatError(`weight '${w.name}' appears twice`, jsonFile);
    values.set(w.name, tf.tensor(aligned.subarray(off, off + n), w.shape, 'float32'));
    off += n;
  }
  let network: Network;
  try {
    network = Network.fromTensors(m.architecture, values, jsonFile);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError((e as Error).message, jsonFile);
  }
  for (const v of network.namedParams()) {
    if (!(v[1].dataSync() as Float32Array).every(Number.isFinite)) throw new ModelFormatError(`weight '${v[0]}' holds NaN or Inf`, jsonFile);
  }
  return { network, metadata: m.metadata };
}
