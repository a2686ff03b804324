/**
 * Root jest config: one project per package that has tests, each with its own jest.config.js,
 * and the operator scripts. (packages/bench has no tests: `npm run bench:*` runs it.)
 */
module.exports = {
  projects: [
    '<rootDir>/packages/shared',
    '<rootDir>/packages/simulator',
    '<rootDir>/packages/cli',
    '<rootDir>/packages/worker',
    '<rootDir>/packages/test-support',
    '<rootDir>/packages/e2e',
    '<rootDir>/scripts',
  ],
};
