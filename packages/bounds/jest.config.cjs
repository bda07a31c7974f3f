module.exports = { ...require('../../jest.preset.js'), displayName: 'bounds', rootDir: __dirname };
