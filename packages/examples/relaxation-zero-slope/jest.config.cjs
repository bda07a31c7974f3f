module.exports = { ...require('../../../jest.preset.js'), displayName: 'example-relaxation-zero-slope', rootDir: __dirname };
