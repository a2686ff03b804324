const path = require('node:path');

const preset = require('../../jest.preset')(__dirname);

// `src/config.ts` imports one module of the shared package's build on its own (the id pattern,
// without TypeBox): tests use its source, like every other workspace import.
module.exports = {
  ...preset,
  moduleNameMapper: {
    ...preset.moduleNameMapper,
    '^@wa-session-sync/shared/dist/(.*)$': path.join(__dirname, '..', 'shared', 'src', '$1'),
  },
};
