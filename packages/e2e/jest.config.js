// End-to-end scenarios drive real processes and real Chromium: generous per-test budget.
module.exports = require('../../jest.preset')(__dirname, { testTimeout: 180_000 });
