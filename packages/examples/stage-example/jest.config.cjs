module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-stage', rootDir: __dirname };
