#!/usr/bin/env node
'use strict';
// Bundles the compiled CLI (dist/, from `tsc -b`) into the two files `wa-sync` runs:
//
//   dist/wa-sync.js           the start: bin, cli wiring, config, errors, redact, commander.
//                             `--help`, `--version` and every usage or configuration error end here.
//   dist/wa-sync-commands.js  the handlers with everything they use (knex, pg, TypeBox, the worker
//                             client, the report), loaded once a command is about to run.
//
// Why a bundle: a sync's start loaded 627 files (lodash 252, TypeBox 218, knex 76); resolving,
// reading and compiling them one by one cost about as much as the sync itself. Measured on Node 20,
// whole processes, 10,000 accounts / 1,000 mismatches, interleaved: 0.61 s unbundled, 0.48 s as
// these two bundles, 0.44-0.46 s without comments and whitespace. One bundle of everything made
// `--help` slower (1.8 MB to parse, 0.17 s against 0.13 s), hence the split at the same place
// where cli.ts already loads the handlers lazily.
//
// Inside a bundle, each module still runs only when it is first required (esbuild keeps CommonJS
// requires lazy), so what the unbundled dist/ loads lazily (PGlite for the embedded database,
// chalk for a coloured report, the audit log...) stays lazy here. PGlite, the embedded database,
// stays outside the bundle: it reads its WebAssembly and data files next to its own modules.
// `dist/wa-sync.meta.json` lists each bundle's inputs (the startup tests read it).
//
// Usage: node packages/cli/scripts/bundle.js   (the root `npm run build` runs it after tsc)

const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const PACKAGE_DIR = path.resolve(__dirname, '..');
const DIST = path.join(PACKAGE_DIR, 'dist');

/** Left outside the bundles: loaded from node_modules when (and only when) they are needed. */
const EXTERNAL = [
  // The embedded database: PGlite finds its .wasm and .data files relative to its own modules.
  '@electric-sql/pglite',
  // pg's optional native binding: never installed, never required.
  'pg-native',
];

/**
 * knex loads a dialect by name, each behind its own require; wa-sync speaks PostgreSQL only
 * (pg, and PGlite through knex-pglite, which extends knex's postgres dialect). The others
 * (~290 KB of the bundle, and the drivers they would require) are left out: asking for one fails
 * with a clear error.
 * @type {import('esbuild').Plugin}
 */
const postgresOnly = {
  name: 'knex-postgres-only',
  setup(build) {
    const others = /^\.\/(better-sqlite3|cockroachdb|mssql|mysql|mariadb|mysql2|oracle|oracledb|pgnative|redshift|sqlite3)$/;
    build.onResolve({ filter: others }, (args) => {
      if (!/[\\/]knex[\\/]lib[\\/]dialects[\\/]index\.js$/.test(args.importer)) return undefined;
      return { path: args.path.slice(2), namespace: 'knex-dialect-left-out' };
    });
    build.onLoad({ filter: /.*/, namespace: 'knex-dialect-left-out' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`the knex dialect ${args.path} is not in wa-sync's bundle: wa-sync speaks PostgreSQL only`)});`,
      loader: 'js',
    }));
  },
};

/**
 * pg decides at load time whether it runs in a Cloudflare Worker. On Node 20, which has no
 * `navigator`, it does so by constructing a `Response`, and that first touch loads node's internal
 * undici (~25 ms of every sync). A bundle built for Node never runs in a Cloudflare Worker.
 * If pg ever changes the function, the bundle is built without the shortcut and says so.
 * @type {import('esbuild').Plugin}
 */
const pgOnNode = {
  name: 'pg-on-node',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const signature = 'function isCloudflareRuntime() {';
      if (!source.includes(signature)) {
        return { contents: source, loader: 'js', warnings: [{ text: 'pg/lib/stream.js has no isCloudflareRuntime(): bundled unchanged' }] };
      }
      return { contents: source.replace(signature, `${signature}\n  return false // bundled for Node.js by wa-sync\n`), loader: 'js' };
    });
  },
};

/**
 * The start's `require('./commands')` (cli.ts) is the handlers' bundle, not the unbundled module
 * next to it in dist/.
 * @type {import('esbuild').Plugin}
 */
const commandsBundle = {
  name: 'commands-bundle',
  setup(build) {
    build.onResolve({ filter: /^\.\/commands$/ }, () => ({ path: './wa-sync-commands.js', external: true }));
  },
};

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: EXTERNAL,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  // Without comments and whitespace a start reads and compiles a third less: measured, a sync of
  // 10,000 accounts ~20 ms faster (0.44 s against 0.46 s, medians of 11, interleaved). Names stay,
  // so a stack trace still names its functions; `node --enable-source-maps` maps it to dist/.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
};

async function main() {
  for (const file of ['bin.js', 'commands.js']) {
    if (!fs.existsSync(path.join(DIST, file))) {
      throw new Error(`${path.join(DIST, file)} is missing: run tsc -b first (npm run build does both)`);
    }
  }
  const start = await esbuild.build({
    ...common,
    entryPoints: [path.join(DIST, 'bin.js')],
    outfile: path.join(DIST, 'wa-sync.js'),
    plugins: [commandsBundle],
  });
  const commands = await esbuild.build({
    ...common,
    entryPoints: [path.join(DIST, 'commands.js')],
    outfile: path.join(DIST, 'wa-sync-commands.js'),
    plugins: [pgOnNode, postgresOnly],
  });
  const meta = { start: inputsOf(start.metafile), commands: inputsOf(commands.metafile) };
  await fs.promises.writeFile(path.join(DIST, 'wa-sync.meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

/** A bundle's inputs, as paths relative to the repository's root (`node_modules/knex/...`). */
function inputsOf(metafile) {
  const root = path.resolve(PACKAGE_DIR, '..', '..');
  return Object.keys(metafile.inputs)
    .map((input) => path.relative(root, path.resolve(process.cwd(), input)).split(path.sep).join('/'))
    .sort();
}

main().catch((error) => {
  process.stderr.write(`bundle: ${error.message}\n`);
  process.exit(1);
});
