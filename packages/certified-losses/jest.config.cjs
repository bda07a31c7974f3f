module.exports = { ...require('../../jest.preset.js'), displayName: 'certified-losses', rootDir: __dirname };
