module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-bound-method', rootDir: __dirname };
