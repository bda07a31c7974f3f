module.exports = { ...require('../../jest.preset.js'), displayName: 'attacks', rootDir: __dirname };
