module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-loss', rootDir: __dirname };
