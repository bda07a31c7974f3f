// ESLint 9 flat config for the whole workspace; `nx run-many -t lint` runs it per project.
// Pragmatic rule set: ESLint's and typescript-eslint's recommended rules (no type-aware rules,
// which would cost a full type-check per project on top of `typecheck`), module boundaries
// from tools/boundaries.json, and eslint-config-prettier last so no rule fights the formatter.
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Which packages may import which, by the `type:*` tag in each package.json `nx.tags`: the
// single source of these rules (the shape of @nx/enforce-module-boundaries depConstraints).
const { depConstraints } = JSON.parse(readFileSync(new URL('./tools/boundaries.json', import.meta.url), 'utf8'));

export default defineConfig(
  { ignores: ['**/dist/', '**/node_modules/', '**/coverage/', 'runs/', 'tmp/', '.nx/', '**/__fixtures__/**/*.js'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // `_`-prefixed parameters and destructured leftovers are deliberate.
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }] },
  },
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          depConstraints,
          enforceBuildableLibDependency: false,
          // The lazy-load check is about bundle splitting; these are Node libraries.
          checkDynamicDependenciesExceptions: ['.*'],
          // Specs may use the shared Jest helpers and another package's test fixtures by path.
          allow: ['^(\\.\\./)+tools/jest/[a-z-]+\\.cjs$', '^(\\.\\./)+[a-z-]+/src/__fixtures__/'],
        },
      ],
    },
  },
  {
    // Tests stay quiet: a spec that prints does so on purpose (behind CERTKD_REPORT and the like)
    // and says so with an eslint-disable comment for this rule.
    files: ['**/*.spec.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    // `const crypto = require('crypto')` shadows Node's global of the same name on purpose.
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    files: ['tools/jest/**'],
    languageOptions: { globals: { ...globals.jest } },
  },
  prettier,
);
