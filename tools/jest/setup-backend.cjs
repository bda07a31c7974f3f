// Tests run on the cpu backend unless CERTKD_TEST_BACKEND names another; backend-specific
// tests (the wasm gradient overrides) switch backends themselves.
const tf = require('@tensorflow/tfjs');
const name = process.env.CERTKD_TEST_BACKEND || 'cpu';
if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
tf.setBackend(name);
// The cpu backend greets Node users once with advice to install tfjs-node; keep test output clean.
if (tf.getBackend() === 'cpu') tf.backend().firstUse = false;
