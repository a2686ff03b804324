import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, type AuditEntry } from './audit';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wa-sync-audit-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const entry = (session_id: string, result = 'status_updated'): AuditEntry => ({
  session_id,
  workspace_id: '1',
  action: 'update_status',
  before: { status: 'connected', phone_number: null },
  after: { status: 'disconnected', phone_number: null },
  result,
});

const lines = async (file: string) =>
  (await fs.readFile(file, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('AuditLog', () => {
  it('appends one JSON line per action, with level, message, time and run id', async () => {
    const file = path.join(dir, 'nested', 'audit.log');
    await fs.mkdir(path.dirname(file));
    await fs.writeFile(file, '{"earlier":"run"}\n');
    const log = await AuditLog.open(file);
    await log.write('run-1', [entry('a'), { ...entry('b', 'reconnect_failed'), error: 'HTTP 500' }]);

    const written = await lines(file);
    expect(written).toEqual([
      { earlier: 'run' },
      expect.objectContaining({ level: 'info', message: 'sync action', run_id: 'run-1', session_id: 'a', result: 'status_updated' }),
      expect.objectContaining({ session_id: 'b', result: 'reconnect_failed', error: 'HTTP 500' }),
    ]);
    expect(written[1].timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('writes each run in one append, after the lines of earlier runs', async () => {
    const file = path.join(dir, 'audit.log');
    const log = await AuditLog.open(file);
    await log.write('run-1', [entry('a'), entry('b')]);
    await log.write('run-2', [entry('a', 'conflict')]);
    expect((await lines(file)).map((line) => `${line.run_id}:${line.session_id}:${line.result}`)).toEqual([
      'run-1:a:status_updated',
      'run-1:b:status_updated',
      'run-2:a:conflict',
    ]);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o640);
  });

  it('creates the folder at once but no file when nothing was recorded', async () => {
    const file = path.join(dir, 'logs', 'audit.log');
    const log = await AuditLog.open(file);
    await log.write('run-1', []);
    expect(await fs.readdir(path.join(dir, 'logs'))).toEqual([]);
  });

  it('refuses at open a path that is a folder, before any line is due', async () => {
    const file = path.join(dir, 'audit.log');
    await fs.mkdir(file);
    await expect(AuditLog.open(file)).rejects.toThrow(/EISDIR/);
  });

  it('refuses at open a path under a file', async () => {
    await fs.writeFile(path.join(dir, 'plain'), 'x');
    await expect(AuditLog.open(path.join(dir, 'plain', 'audit.log'))).rejects.toThrow(/EEXIST|ENOTDIR/);
  });
});
