import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ModelFormatError } from '../errors/errors';
import { Network } from '../network/network';
import { networkSpecSchema } from '../network/spec-schema';
import { writeDirAtomic, writeFileSynced } from './atomic';

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

/** Save a network as a directory holding model.json and weights.bin (little-endian float32), atomically and durably (IoError on failure). */
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
    writeFileSynced(path.join(tmp, 'model.json'), JSON.stringify(json, null, 2));
    writeFileSynced(path.join(tmp, 'weights.bin'), new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  });
}

export interface LoadedModel {
  network: Network;
  metadata: ModelMetadata;
}

/** Largest weights a model may hold: what one read can return (2 GiB - 1). */
export const MAX_WEIGHTS_BYTES = 2 ** 31 - 1;
/** Largest model.json accepted (architecture and metadata only; the weights are separate). */
const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;

/** stat() a file the model directory names, as a ModelFormatError when it is missing or not a file. */
function statModelFile(file: string, what: string, jsonFile: string): fs.Stats {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch (e) {
    throw new ModelFormatError(`${what} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, jsonFile);
  }
  if (!st) throw new ModelFormatError(`${what} not found`, jsonFile);
  if (!st.isFile()) throw new ModelFormatError(`${what} is not a regular file`, jsonFile);
  return st;
}

function readModelFile(file: string, jsonFile: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ModelFormatError(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file === jsonFile ? jsonFile : file);
  }
}

/**
 * Load and validate a model directory (or its model.json). Bad files raise ModelFormatError
 * naming the file: missing or oversized files, weights paths leaving the directory (also
 * through symbolic links), sizes that disagree with the manifest (checked before any weights
 * are read), unsupported dtypes, shapes the architecture does not expect, NaN/Inf values.
 */
export function loadModel(dirOrJson: string): LoadedModel {
  const jsonFile = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, 'model.json');
  const dir = path.dirname(path.resolve(jsonFile));
  if (!fs.existsSync(jsonFile)) throw new ModelFormatError('model.json not found (expected a CertKD model directory)', jsonFile);
  const jsonSize = statModelFile(jsonFile, 'model.json', jsonFile).size;
  if (jsonSize > MAX_MODEL_JSON_BYTES)
    throw new ModelFormatError(`is ${jsonSize} bytes; a model.json over ${MAX_MODEL_JSON_BYTES} bytes is not a CertKD model`, jsonFile);
  let raw: unknown;
  try {
    raw = JSON.parse(readModelFile(jsonFile, jsonFile).toString('utf8'));
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(`not valid JSON (${(e as Error).message})`, jsonFile);
  }
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFormatError(`field '${issue.path.join('.') || '(root)'}': ${issue.message}`, jsonFile);
  }
  const m = parsed.data;
  const group = m.weightsManifest[0];
  // What the manifest declares, checked before anything is read or allocated.
  const names = new Set<string>();
  let need = 0;
  for (const w of group.weights) {
    if (w.dtype !== 'float32') throw new ModelFormatError(`weight '${w.name}' has dtype '${w.dtype}', only float32 is supported`, jsonFile);
    if (names.has(w.name)) throw new ModelFormatError(`weight '${w.name}' appears twice`, jsonFile);
    names.add(w.name);
    need += w.shape.reduce((a, b) => a * b, 1) * 4;
  }
  if (need > MAX_WEIGHTS_BYTES)
    throw new ModelFormatError(`the manifest describes ${need} bytes of weights; at most ${MAX_WEIGHTS_BYTES} are supported`, jsonFile);
  const realDir = fs.realpathSync(dir);
  const files: { full: string; size: number }[] = [];
  for (const p of group.paths) {
    const full = path.resolve(dir, p);
    if (path.isAbsolute(p) || !full.startsWith(dir + path.sep)) {
      throw new ModelFormatError(`weights path '${p}' leaves the model directory`, jsonFile);
    }
    const { size } = statModelFile(full, `weights file '${p}'`, jsonFile);
    if (!fs.realpathSync(full).startsWith(realDir + path.sep))
      throw new ModelFormatError(`weights path '${p}' leaves the model directory (through a symbolic link)`, jsonFile);
    files.push({ full, size });
  }
  const have = files.reduce((n, f) => n + f.size, 0);
  if (have !== need) {
    throw new ModelFormatError(`weights hold ${have} bytes but the manifest describes ${need}`, path.join(dir, group.paths[0]));
  }
  const bytes = Buffer.concat(files.map((f) => readModelFile(f.full, jsonFile)));
  if (bytes.length !== need)
    throw new ModelFormatError(`weights changed while being read (${bytes.length} bytes, expected ${need})`, path.join(dir, group.paths[0]));
  const aligned = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  // Refuse non-finite values (and negative BatchNorm variances) naming the file and the tensor.
  const arrays = new Map<string, { data: Float32Array; shape: number[] }>();
  let off = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const data = aligned.subarray(off, off + n);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    const where = files.length === 1 ? files[0].full : path.join(dir, group.paths.join('+'));
    if (bad >= 0) throw new ModelFormatError(`weight '${w.name}' holds ${data[bad]} at index ${bad}; weights must be finite`, where);
    if (w.name.endsWith('.movingVariance') && data.some((v) => v < 0))
      throw new ModelFormatError(`weight '${w.name}' holds a negative BatchNorm variance`, where);
    arrays.set(w.name, { data, shape: w.shape });
    off += n;
  }
  const values = new Map<string, tf.Tensor>();
  for (const [name, a] of arrays) values.set(name, tf.tensor(a.data, a.shape, 'float32'));
  let network: Network;
  try {
    network = Network.fromTensors(m.architecture, values, jsonFile);
  } catch (e) {
    // fromTensors owns the tensors only once the architecture is valid; free them either way.
    values.forEach((v) => v.dispose());
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError((e as Error).message, jsonFile);
  }
  return { network, metadata: m.metadata };
}
