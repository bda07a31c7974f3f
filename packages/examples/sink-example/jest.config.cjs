module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-sink', rootDir: __dirname };
