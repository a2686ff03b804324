import { runCli, type CliIo } from './cli';

function io(env: CliIo['env'] = {}) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      env,
      stdout: { write: (text: string) => (out.stdout += text), isTTY: false },
      stderr: { write: (text: string) => (out.stderr += text) },
    } satisfies CliIo,
  };
}

// Everything here fails or finishes before any connection is attempted.
describe('wa-sync argument handling', () => {
  it.each([
    [['sync-sessions', '--nope'], "wa-sync: unknown option '--nope'\n"],
    [['sync-sessions', '--auto-reconect'], "wa-sync: unknown option '--auto-reconect' (Did you mean --auto-reconnect?)\n"],
    [['sync-sessions', '--workspace'], "wa-sync: option '--workspace <id>' argument missing\n"],
    [['sync-sessions', '--workspace=a/b'], 'wa-sync: --workspace must match ^[A-Za-z0-9_-]{1,100}$, got "a/b" [CONFIG_INVALID]\n'],
    [['sync-sessions', 'extra'], "wa-sync: too many arguments for 'sync-sessions'. Expected 0 arguments but got 1.\n"],
    [['migrat'], "wa-sync: unknown command 'migrat' (Did you mean migrate?)\n"],
  ])('%j exits 2 with one line', async (argv, stderr) => {
    const { out, io: cliIo } = io();
    expect(await runCli(argv, cliIo)).toBe(2);
    expect(out).toEqual({ stdout: '', stderr });
  });

  it('exits 2 with usage on stderr when no command is given', async () => {
    const { out, io: cliIo } = io();
    expect(await runCli([], cliIo)).toBe(2);
    expect(out.stderr).toContain('Usage: wa-sync');
  });

  it('prints help and exits 0 with --help', async () => {
    const { out, io: cliIo } = io();
    expect(await runCli(['sync-sessions', '--help'], cliIo)).toBe(0);
    expect(out.stdout).toContain('--auto-reconnect');
    expect(out.stdout).toContain('--workspace <id>');
    expect(out.stdout).toContain('--dry-run');
    expect(out.stdout).toContain('--json');
  });

  it.each([['--version'], ['-V']])('prints the package version with %s and exits 0', async (flag) => {
    const { out, io: cliIo } = io();
    expect(await runCli([flag], cliIo)).toBe(0);
    expect(out).toEqual({ stdout: `${(require('../package.json') as { version: string }).version}\n`, stderr: '' });
  });

  it('reports a bad configuration as JSON too with --json, exit 2', async () => {
    const { out, io: cliIo } = io({ DATABASE_URL: 'nonsense with s3cret' });
    expect(await runCli(['sync-sessions', '--json'], cliIo)).toBe(2);
    expect(JSON.parse(out.stdout)).toEqual({
      ok: false,
      error: { code: 'CONFIG_INVALID', message: expect.stringContaining('DATABASE_URL is not a valid URL') },
    });
    expect(out.stdout + out.stderr).not.toContain('s3cret');
  });
});
