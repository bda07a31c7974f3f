// Shared Jest settings: TypeScript through SWC (legacy decorators + metadata for tsyringe),
// @certkd/* resolved to package sources so tests never depend on a stale build.
const path = require('path');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@certkd/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts'),
  },
  setupFiles: ['reflect-metadata', path.join(__dirname, 'tools/jest/setup-backend.cjs')],
  setupFilesAfterEnv: [path.join(__dirname, 'tools/jest/await-backend.cjs')],
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  testTimeout: 60000,
};
