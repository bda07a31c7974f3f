module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'interop',
  rootDir: __dirname,
  testEnvironment: require('path').join(__dirname, 'jest-environment.cjs'),
};
