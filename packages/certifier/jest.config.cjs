module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'certifier',
  rootDir: __dirname,
  // onnxruntime-node needs the host realm's typed-array constructors (see the environment file).
  testEnvironment: require('path').join(__dirname, '../../tools/jest/onnxruntime-environment.cjs'),
};
