module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'certifier',
  rootDir: __dirname,
  // onnxruntime-node needs the shared typed-array constructors (see jest-environment.cjs).
  testEnvironment: require('path').join(__dirname, 'jest-environment.cjs'),
};
