// The per-test budget for these real-process scenarios is set in test/harness.ts (jest.setTimeout).
module.exports = require('../../jest.preset')(__dirname);
