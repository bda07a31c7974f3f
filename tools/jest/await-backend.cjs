// The wasm backend (CERTKD_TEST_BACKEND=wasm or onnxruntime, see setup-backend.cjs) initialises
// asynchronously; every test file waits for it before its first test.
if (globalThis.__certkdBackendReady) {
  beforeAll(async () => {
    if (!(await globalThis.__certkdBackendReady)) throw new Error(`tf.setBackend('wasm') failed (CERTKD_TEST_BACKEND=${process.env.CERTKD_TEST_BACKEND})`);
  });
}
