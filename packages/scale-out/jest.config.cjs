module.exports = { ...require('../../jest.preset.js'), displayName: 'scale-out', rootDir: __dirname };
