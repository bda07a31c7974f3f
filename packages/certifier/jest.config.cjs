module.exports = { ...require('../../jest.preset.js'), displayName: 'certifier', rootDir: __dirname };
