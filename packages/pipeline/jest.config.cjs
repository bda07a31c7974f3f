module.exports = { ...require('../../jest.preset.js'), displayName: 'pipeline', rootDir: __dirname };
