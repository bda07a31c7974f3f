// Tests run on the cpu backend unless CERTKD_TEST_BACKEND names another; backend-specific
// tests (the wasm gradient overrides) switch backends themselves.
//   CERTKD_TEST_BACKEND=wasm         the wasm backend with the gradient overrides
//   CERTKD_TEST_BACKEND=onnxruntime  the same plus the onnxruntime-node kernels (convolutions,
//                                    their gradients, matrix products; CERTKD_ORT_MIN_FLOPS=0
//                                    routes every call, however small, through onnxruntime)
// wasm initialises asynchronously: tools/jest/await-backend.cjs (setupFilesAfterEnv) waits for it.
const path = require('path');
const name = process.env.CERTKD_TEST_BACKEND || 'cpu';
if (name === 'onnxruntime') {
  // onnxruntime-node builds its output tensors with the main realm's typed arrays; let the test
  // realm share them (as tools/jest/onnxruntime-environment.cjs does).
  const { runInThisContext } = require('vm');
  for (const t of require('./onnxruntime-environment.cjs').TYPED_ARRAYS) {
    globalThis[t] = runInThisContext(t);
  }
}
const tf = require('@tensorflow/tfjs');
if (name === 'wasm' || name === 'onnxruntime') {
  require('@tensorflow/tfjs-backend-wasm');
  const backend = path.join(__dirname, '../../packages/core/src/backend');
  require(path.join(backend, 'wasm-gradients.ts')).registerWasmGradients();
  if (name === 'onnxruntime') require(path.join(backend, 'onnxruntime/ort-kernels.ts')).registerOrtKernels();
  globalThis.__certkdBackendReady = tf.setBackend('wasm');
} else {
  tf.setBackend(name);
}
// The cpu backend greets Node users once with advice to install tfjs-node; keep test output clean.
if (tf.getBackend() === 'cpu') tf.backend().firstUse = false;
