#!/usr/bin/env node
// The installed `wa-worker` command. It exists before the build so that npm links it at install
// (npm links a workspace's bin only if its file is there then); the worker itself is dist/main.js.
try {
  require.resolve('../dist/main.js');
} catch {
  process.stderr.write('wa-worker: not built yet: run `npm run build` first\n');
  process.exit(2);
}
require('../dist/main.js');
