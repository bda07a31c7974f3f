module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-attack', rootDir: __dirname };
