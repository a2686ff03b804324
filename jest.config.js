/** Root jest config: one project per package, each with its own jest.config.js, and the operator scripts. */
module.exports = {
  projects: ['<rootDir>/packages/*', '<rootDir>/scripts'],
};
