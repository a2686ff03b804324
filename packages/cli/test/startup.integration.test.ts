import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { cleanEnv, spawnProcess, tempDir } from '@wa-session-sync/test-support';
import { BIN, ended, seedAccounts, startSyncWorld, type SyncWorld } from './support';

// What a start of the CLI loads is what it costs (each of knex, TypeBox, pg... is tens of
// milliseconds of every run): these tests pin down which modules each kind of start loads.
//
// `wa-sync` runs two bundles (packages/cli/scripts/bundle.js): the start, and the handlers with
// everything they use. Inside a bundle a module still runs only when first required, so which
// modules a start runs is proven on the unbundled dist/bin.js the bundles are built from; what
// each bundle holds, and which files the installed command loads, is proven on the bundles.

jest.setTimeout(30_000);

const PACKAGES_DIR = path.resolve(__dirname, '..', '..');
const ROOT = path.resolve(PACKAGES_DIR, '..');
/** tsc's output, module by module: what the bundles are built from. */
const UNBUNDLED = path.join(PACKAGES_DIR, 'cli', 'dist', 'bin.js');

/** The seven modules a start runs before it knows it has a command to run. */
const START_MODULES = [
  'cli/dist/bin.js',
  'cli/dist/cli.js',
  'cli/dist/config.js',
  'cli/dist/errors.js',
  'cli/dist/redact.js',
  'shared/dist/id-pattern.js',
  'shared/dist/secret-file.js',
];

interface Loaded {
  code: number | null;
  /** Every package loaded from node_modules, by name. */
  packages: string[];
  /** Our own modules loaded, relative to packages/ (`shared/dist/index.js`). */
  own: string[];
}

/** Runs `wa-sync <args>` from `entry` as a bin would and lists, at its exit, every module it had loaded. */
async function loadedBy(entry: string, args: string[], env: Record<string, string>): Promise<Loaded> {
  const script = `
    process.argv = [process.argv[0], ${JSON.stringify(entry)}, ...${JSON.stringify(args)}];
    process.on('exit', () => require('node:fs').writeSync(2, '\\nLOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));
    require(${JSON.stringify(entry)});`;
  const result = await ended(spawnProcess(process.execPath, ['-e', script], { env: { ...cleanEnv(), ...env } }).done, `wa-sync ${args.join(' ')} (listing its modules) to end`);
  const line = /\nLOADED (.*)\n/.exec(result.stderr);
  if (!line) throw new Error(`no module list: ${result.stderr}`);
  const files = JSON.parse(line[1]) as string[];
  const packages = new Set<string>();
  const own: string[] = [];
  for (const file of files) {
    const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (inModules) packages.add(inModules[1]);
    else if (file.startsWith(PACKAGES_DIR)) own.push(path.relative(PACKAGES_DIR, file));
  }
  return { code: result.code, packages: [...packages].sort(), own: own.sort() };
}

/** The package a bundle input comes from (`knex`, `@sinclair/typebox`), or our own path. */
const packageOf = (input: string) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? input.replace(/^packages\//, '');

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-startup-', { migrate: true });
});

afterAll(async () => {
  await world?.close();
});

describe('a start that runs no command runs commander and nothing else (unbundled)', () => {
  it.each<[string[], number, Record<string, string>]>([
    [['--help'], 0, {}],
    [['sync-sessions', '--help'], 0, {}],
    [['--version'], 0, {}],
    [['sync-sessions', '--bogus'], 2, {}],
    [['sync-sessions', '--workspace=../etc'], 2, {}],
    [['sync-sessions'], 2, { DATABASE_URL: 'not a url' }],
  ])('%j', async (args, code, env) => {
    const loaded = await loadedBy(UNBUNDLED, args, { ...world.env, ...env });
    expect(loaded.code).toBe(code);
    expect(loaded.packages).toEqual(['commander']);
    expect(loaded.own).toEqual(START_MODULES);
  });
});

describe('a sync against Postgres (unbundled)', () => {
  it('runs neither the embedded database, nor a colour library for JSON, nor an HTTP library beyond node', async () => {
    await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
    const loaded = await loadedBy(UNBUNDLED, ['sync-sessions', '--json'], world.env);
    expect(loaded.code).toBe(0);
    expect(loaded.packages).toEqual(expect.arrayContaining(['commander', 'knex', 'pg', '@sinclair/typebox', 'p-limit']));
    for (const heavy of ['knex-pglite', '@electric-sql/pglite', 'proper-lockfile', 'undici', 'winston', 'chalk']) {
      expect(loaded.packages).not.toContain(heavy);
    }
  });
});

describe('the bundles', () => {
  const meta = JSON.parse(fs.readFileSync(path.join(PACKAGES_DIR, 'cli', 'dist', 'wa-sync.meta.json'), 'utf8')) as {
    start: string[];
    commands: string[];
  };

  it('the start holds commander and the modules a start runs, nothing else', () => {
    expect([...new Set(meta.start.map(packageOf))].sort()).toEqual(['commander', ...START_MODULES].sort());
  });

  it('the handlers hold the database driver, the worker client and TypeBox, but not PGlite nor knex\'s other dialects', () => {
    const packages = new Set(meta.commands.map(packageOf));
    for (const needed of ['knex', 'knex-pglite', 'pg', '@sinclair/typebox', 'p-limit', 'chalk', 'cli/dist/commands.js', 'cli/dist/worker-client.js']) {
      expect(packages).toContain(needed);
    }
    for (const outside of ['@electric-sql/pglite', 'undici', 'winston', 'commander']) {
      expect(packages).not.toContain(outside);
    }
    expect(meta.commands.filter((input) => /knex\/lib\/dialects\/(?!index\.js|postgres\/)/.test(input))).toEqual([]);
  });

  it('are built from the modules tsc wrote last', () => {
    // `npm run build` writes both; a bundle older than the module it holds is a build that stopped halfway.
    for (const [bundle, inputs] of [['wa-sync.js', meta.start], ['wa-sync-commands.js', meta.commands]] as const) {
      const built = fs.statSync(path.join(PACKAGES_DIR, 'cli', 'dist', bundle)).mtimeMs;
      for (const input of inputs.filter((i) => /^packages\/[^/]+\/dist\//.test(i))) {
        expect({ input, newer: fs.statSync(path.join(ROOT, input)).mtimeMs > built }).toEqual({ input, newer: false });
      }
    }
  });
});

describe('the installed command', () => {
  it('--help loads its bin and the start bundle, no other file', async () => {
    const loaded = await loadedBy(BIN, ['--help'], {});
    expect(loaded).toEqual({ code: 0, packages: [], own: ['cli/bin/wa-sync.js', 'cli/dist/wa-sync.js'] });
  });

  it('a sync against Postgres loads the two bundles and nothing from node_modules', async () => {
    await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
    const loaded = await loadedBy(BIN, ['sync-sessions', '--json'], world.env);
    expect(loaded).toEqual({ code: 0, packages: [], own: ['cli/bin/wa-sync.js', 'cli/dist/wa-sync-commands.js', 'cli/dist/wa-sync.js'] });
  });

  it('on a terminal, prints the coloured report: chalk runs inside the handlers\' bundle', async () => {
    // `script` gives the command a terminal (util-linux, part of every Debian); stdout is then a TTY.
    await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
    const command = [process.execPath, BIN, 'sync-sessions', '--dry-run'].map((word) => `'${word}'`).join(' ');
    const result = await ended(spawnProcess('script', ['-qec', command, '/dev/null'], { env: { ...cleanEnv(), ...world.env } }).done, 'wa-sync sync-sessions --dry-run on a terminal to end');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('\u001b[32m');
    expect(result.stdout).toContain('Worker is healthy');
  });

  it('PGlite, the embedded database, is loaded from node_modules, where it finds its WebAssembly', async () => {
    const dataDir = await tempDir('wa-sync-startup-pglite-');
    try {
      const loaded = await loadedBy(BIN, ['migrate'], { WA_SYNC_DATA_DIR: dataDir });
      expect(loaded.code).toBe(0);
      expect(loaded.packages).toEqual(['@electric-sql/pglite']);
      expect(loaded.own).toEqual(['cli/bin/wa-sync.js', 'cli/dist/wa-sync-commands.js', 'cli/dist/wa-sync.js']);
    } finally {
      await fs.promises.rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a reader that stops reading', () => {
  it('is no failure: the exit code stays the run\'s and nothing is printed on stderr', async () => {
    // `wa-sync --help | true`: the read end of its stdout is closed before it writes.
    const child = spawn(process.execPath, [BIN, '--help'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await ended(once(child, 'close'), 'wa-sync --help with its stdout closed to end')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
