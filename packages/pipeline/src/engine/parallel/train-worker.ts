// A data-parallel training worker: its own tfjs instance (wasm or cpu), a replica of the model,
// loss, teacher and optimiser, and a shared-memory collective with the other workers. Every
// worker applies the same summed gradients, so the replicas stay identical.
import 'reflect-metadata';
import { parentPort } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import {
  Adam,
  BackendChoice,
  Network,
  SeededRng,
  SharedMemoryCollective,
  inferShapes,
  loadBackend,
  ortThreads,
  paramKey,
  paramShapes,
  setOrtThreads,
} from '@certkd/core';
import { NetworkTeacher } from '@certkd/teachers';
import { createRegistry } from '../registry';
import { trainStep, type TrainingParts } from '../train-step';
import { paramValues, type FromWorker, type InitMessage, type ReadyReply, type ParamValues, type StepMessage, type ToWorker } from './protocol';

type Replica = TrainingParts<NetworkTeacher>;

let replica: Replica | undefined;
// Set first in init, so that a failure anywhere after it can still wake the other workers.
let collective: SharedMemoryCollective | undefined;

function networkFrom(spec: InitMessage['spec'], params: ParamValues, source: string): Network {
  const shapes = new Map<string, number[]>();
  const inShapes = inferShapes(spec);
  spec.layers.forEach((layer, i) => {
    for (const [name, shape] of Object.entries(paramShapes(layer, inShapes[i]))) shapes.set(paramKey(i, name), shape);
  });
  const values = new Map<string, tf.Tensor>();
  for (const [name, data] of params) values.set(name, tf.tensor(data, shapes.get(name) ?? [data.length], 'float32'));
  return Network.fromTensors(spec, values, source);
}

async function init(m: InitMessage): Promise<ReadyReply> {
  const info = await loadBackend(m.backend as BackendChoice);
  // The main thread runs m.backend: a worker falling back to another would train on other kernels.
  if (info.name !== m.backend) throw new Error(`the training worker could not load the ${m.backend} backend (${info.detail})`);
  if (m.ortThreads) setOrtThreads(m.ortThreads);
  collective = new SharedMemoryCollective(m.buffer, m.rank, m.size);
  const registry = createRegistry(m.plugins, m.baseDir);
  const net = networkFrom(m.spec, m.params, 'training worker');
  const loss = registry.create(m.loss.kind, m.loss.name, m.loss.options);
  const attack = m.attack ? registry.create('attack', m.attack.name, m.attack.options) : undefined;
  const teacher = m.teacher ? new NetworkTeacher(networkFrom(m.teacher.spec, m.teacher.params, 'teacher'), m.teacher.name, m.teacher.tap) : undefined;
  loss.prepare?.(net, teacher, new SeededRng(m.prepareSeed));
  const extras = loss.variables?.() ?? [];
  if (extras.length !== m.extras.length) throw new Error(`the loss has ${extras.length} extra variables here but ${m.extras.length} in the main thread`);
  tf.tidy(() => extras.forEach((v, i) => v.assign(tf.tensor(m.extras[i], v.shape))));
  const vars = [...net.trainableVariables(), ...extras];
  const adam = new Adam(vars, m.adamConfig);
  adam.setState(m.adam);
  replica = { net, loss, attack, teacher, extras, vars, adam };
  return { type: 'ready', backend: info.name, ...(info.name === 'onnxruntime' ? { ortThreads: ortThreads() } : {}) };
}

function step(m: StepMessage): FromWorker {
  const r = replica;
  if (!r || !collective) throw new Error('training worker used before init');
  collective.offset = m.offset;
  collective.globalBatch = m.globalBatch;
  const rng = new SeededRng(0);
  rng.setState(m.rngState);
  const x = tf.tensor(m.x, m.shape, 'float32');
  const y = tf.tensor1d(m.y, 'int32');
  try {
    const out = trainStep({
      net: r.net,
      loss: r.loss,
      adam: r.adam,
      vars: r.vars,
      x,
      y,
      eps: m.eps,
      epsMax: m.epsMax,
      rng,
      progress: m.progress,
      lr: m.lr,
      gradClip: m.gradClip,
      teacher: r.teacher,
      attack: r.attack,
      collective,
    });
    return { type: 'step', ...out };
  } finally {
    tf.dispose([x, y]);
  }
}

function state(): FromWorker {
  const r = replica;
  if (!r) throw new Error('training worker used before init');
  return {
    type: 'state',
    params: paramValues(r.net),
    adam: r.adam.getState(),
    extras: r.extras.map((v) => v.dataSync() as Float32Array),
  };
}

const port = parentPort;
if (port) {
  port.on('message', async (m: ToWorker) => {
    try {
      if (m.type === 'init') {
        port.postMessage((await init(m)) satisfies FromWorker);
      } else if (m.type === 'step') {
        port.postMessage(step(m));
      } else {
        port.postMessage(state());
      }
    } catch (e) {
      // Wake the other workers (they would wait for this one at the next exchange).
      collective?.abort();
      const err = e as Error;
      port.postMessage({ type: 'error', name: err.name ?? 'Error', message: err.message ?? String(e), stack: err.stack } satisfies FromWorker);
    }
  });
}
