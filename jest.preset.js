/**
 * Shared jest settings for every package: @swc/jest compiles TypeScript to CommonJS (type
 * checking is `tsc -b`'s job), chalk 5 is ESM-only so it is transformed too, and workspace
 * imports resolve to the sibling package's sources so tests never depend on a stale build.
 */
const path = require('node:path');

module.exports = function preset(packageDir, overrides = {}) {
  return {
    displayName: path.basename(packageDir),
    rootDir: packageDir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    transform: {
      '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
    },
    transformIgnorePatterns: ['/node_modules/(?!(chalk)/)'],
    moduleNameMapper: {
      '^@wa-session-sync/(shared|simulator|cli|worker|test-support)$': path.join(__dirname, 'packages', '$1', 'src'),
      // A module imported alone from a package's build (the worker's /proc reader, shared's
      // migrations and id pattern): its source.
      '^@wa-session-sync/(shared|cli|worker)/dist/(.*)$': path.join(__dirname, 'packages', '$1', 'src', '$2'),
    },
    ...overrides,
  };
};
