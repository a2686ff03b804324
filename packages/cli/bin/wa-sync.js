#!/usr/bin/env node
// The installed `wa-sync` command. It exists before the build so that npm links it at install
// (npm links a workspace's bin only if its file is there then); the CLI itself is dist/bin.js.
try {
  require.resolve('../dist/bin.js');
} catch {
  process.stderr.write('wa-sync: not built yet: run `npm run build` first\n');
  process.exit(2);
}
require('../dist/bin.js');
