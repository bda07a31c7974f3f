// tsyringe's decorators need the Reflect metadata API before any decorated class loads.
import 'reflect-metadata';
// The umbrella package registers every gradient and chained op on the shared tfjs-core.
import '@tensorflow/tfjs';

export * from './errors/errors';
export * from './rng/seeded-rng';
export * from './di/plugin';
export * from './di/registry';
export * from './di/tokens';
export * from './di/container';
export * from './di/register-core';
export * from './events/events';
export * from './network/layers';
export * from './network/network';
export * from './network/architectures';
export * from './network/spec-schema';
export * from './io/atomic';
export * from './io/model-format';
export * from './backend/backend-loader';
export * from './backend/wasm-gradients';
export * from './optim/adam';
export * from './parallel/collective';
export * from './tensor';
export * from './contracts/dataset';
export * from './contracts/attack';
export * from './contracts/loss';
export * from './contracts/teacher';
export { tf };
import * as tf from '@tensorflow/tfjs-core';
