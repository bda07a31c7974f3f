module.exports = { ...require('../../jest.preset.js'), displayName: 'distill-losses', rootDir: __dirname };
