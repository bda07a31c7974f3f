// onnxruntime-node builds its output tensors with the main realm's typed-array constructors and
// checks them with `instanceof` against the test realm's; sharing the constructors makes both
// realms agree (the data is the same either way).
const { TestEnvironment } = require('jest-environment-node');

/** The constructors the two realms must share (also used by setup-backend.cjs). */
const TYPED_ARRAYS = [
  'ArrayBuffer',
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = SharedTypedArrayEnvironment;
module.exports.TYPED_ARRAYS = TYPED_ARRAYS;
