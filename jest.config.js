/** Root jest config: one project per package, each with its own jest.config.js. */
module.exports = {
  projects: ['<rootDir>/packages/*'],
};
