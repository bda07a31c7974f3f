import type { AdamConfig, AdamState, Network, NetworkSpec, PluginKind } from '@certkd/core';

/** Named parameter values of a network, in Network.namedParams() order. */
export type ParamValues = [string, Float32Array][];

/** A network's parameter values, for a message either way. */
export function paramValues(net: Network): ParamValues {
  return net.namedParams().map(([k, v]) => [k, v.dataSync() as Float32Array]);
}

export interface PluginRefMessage<K extends PluginKind = 'certified-loss' | 'distill-loss' | 'teacher'> {
  kind: K;
  name: string;
  options: Record<string, unknown>;
}

/** Everything a training worker needs to rebuild the model, loss, teacher and optimiser. */
export interface InitMessage {
  type: 'init';
  backend: string;
  /** Intra-op threads of the worker's onnxruntime sessions (the main thread's count split over the workers). */
  ortThreads?: number;
  plugins: string[];
  baseDir: string;
  rank: number;
  size: number;
  buffer: SharedArrayBuffer;
  spec: NetworkSpec;
  params: ParamValues;
  loss: PluginRefMessage;
  attack?: PluginRefMessage<'attack'>;
  teacher?: { spec: NetworkSpec; params: ParamValues; tap: string; name: string };
  prepareSeed: number;
  extras: Float32Array[];
  adamConfig: AdamConfig;
  adam: AdamState;
}

export interface StepMessage {
  type: 'step';
  x: Float32Array;
  shape: number[];
  y: Int32Array;
  offset: number;
  globalBatch: number;
  eps: number;
  epsMax: number;
  rngState: number[];
  progress: { epoch: number; step: number; fraction: number };
  lr: number;
  gradClip: number;
}

export interface StateMessage {
  type: 'state';
}

export type ToWorker = InitMessage | StepMessage | StateMessage;

export interface StepReply {
  type: 'step';
  loss: number;
  parts: Record<string, number>;
  correct: number;
  gradNorm: number;
}

export interface StateReply {
  type: 'state';
  params: ParamValues;
  adam: AdamState;
  extras: Float32Array[];
}

export interface ErrorReply {
  type: 'error';
  name: string;
  message: string;
  stack?: string;
}

/** A worker's answer to init: the backend it runs (and its onnxruntime intra-op threads there). */
export interface ReadyReply {
  type: 'ready';
  backend: string;
  ortThreads?: number;
}

export type FromWorker = ReadyReply | StepReply | StateReply | ErrorReply;
