#!/usr/bin/env node
// The installed `wa-sync` command. It exists before the build so that npm links it at install
// (npm links a workspace's bin only if its file is there then); the CLI itself is the bundle
// dist/wa-sync.js that `npm run build` writes (packages/cli/scripts/bundle.js says why a bundle).
try {
  require.resolve('../dist/wa-sync.js');
} catch {
  process.stderr.write('wa-sync: not built yet: run `npm run build` first\n');
  process.exit(2);
}
require('../dist/wa-sync.js');
