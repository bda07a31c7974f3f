module.exports = { ...require('../../jest.preset.js'), displayName: 'teachers', rootDir: __dirname };
