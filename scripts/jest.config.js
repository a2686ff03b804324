// The operator scripts (bash) are tested from here: real HTTP stand-ins, bash as a child process.
module.exports = require('../jest.preset')(__dirname);
