import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { cleanEnv, spawnProcess } from '@wa-session-sync/test-support';
import { BIN, seedAccounts, startSyncWorld, type SyncWorld } from './support';

// What a start of the built CLI loads is what it costs (each of knex, TypeBox, pg... is tens of
// milliseconds of every run): these tests pin down which modules each kind of start loads.

jest.setTimeout(30_000);

const PACKAGES_DIR = path.resolve(__dirname, '..', '..');

interface Loaded {
  code: number | null;
  /** Every package loaded from node_modules, by name. */
  packages: string[];
  /** Our own modules loaded, relative to packages/ (`shared/dist/index.js`). */
  own: string[];
}

/** Runs `wa-sync <args>` as `bin.js` would and lists, at its exit, every module it had loaded. */
async function loadedBy(args: string[], env: Record<string, string>): Promise<Loaded> {
  const script = `
    process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...${JSON.stringify(args)}];
    process.on('exit', () => require('node:fs').writeSync(2, '\\nLOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));
    require(${JSON.stringify(BIN)});`;
  const result = await spawnProcess(process.execPath, ['-e', script], { env: { ...cleanEnv(), ...env } }).done;
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

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-startup-', { migrate: true });
});

afterAll(async () => {
  await world?.close();
});

describe('a start that runs no command loads commander and nothing else', () => {
  it.each<[string[], number, Record<string, string>]>([
    [['--help'], 0, {}],
    [['sync-sessions', '--help'], 0, {}],
    [['--version'], 0, {}],
    [['sync-sessions', '--bogus'], 2, {}],
    [['sync-sessions', '--workspace=../etc'], 2, {}],
    [['sync-sessions'], 2, { DATABASE_URL: 'not a url' }],
  ])('%j', async (args, code, env) => {
    const loaded = await loadedBy(args, { ...world.env, ...env });
    expect(loaded.code).toBe(code);
    expect(loaded.packages).toEqual(['commander']);
    expect(loaded.own).toEqual([
      'cli/dist/bin.js',
      'cli/dist/cli.js',
      'cli/dist/config.js',
      'cli/dist/errors.js',
      'cli/dist/redact.js',
      'shared/dist/id-pattern.js',
    ]);
  });
});

describe('a sync against Postgres', () => {
  it('loads neither the embedded database, nor a colour library for JSON, nor an HTTP library beyond node', async () => {
    await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
    const loaded = await loadedBy(['sync-sessions', '--json'], world.env);
    expect(loaded.code).toBe(0);
    expect(loaded.packages).toEqual(expect.arrayContaining(['commander', 'knex', 'pg', '@sinclair/typebox', 'p-limit']));
    for (const heavy of ['knex-pglite', '@electric-sql/pglite', 'proper-lockfile', 'undici', 'winston', 'chalk']) {
      expect(loaded.packages).not.toContain(heavy);
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
    const [code] = (await once(child, 'close')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
