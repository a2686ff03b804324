import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../packages/worker/src/config';

// Keeps the deployment files and the docs in step with the code: a variable the worker or the CLI
// starts reading, or a bin that moves, must show up here before an operator trips on it.
const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

const VARIABLE = /\b(?:WHATSAPP|WA_SYNC|PUPPETEER|LOG|DATABASE|NO)_[A-Z0-9_]+\b|\b(?:PORT|HOST)\b/g;
const variablesIn = (file: string) => new Set(read(file).match(VARIABLE));

const WORKER_VARIABLES = variablesIn('packages/worker/src/config.ts');
const CLI_VARIABLES = variablesIn('packages/cli/src/config.ts');
CLI_VARIABLES.add('WA_SYNC_REPORT_MAX_RSS'); // read by bin.ts

/**
 * `docker-compose config` as CI runs it: .env.example for compose's own values, the process
 * files (.env.worker, .env.sync) from their examples beside a copy of the compose file.
 */
function resolvedCompose(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-compose-'));
  try {
    fs.copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
    fs.copyFileSync(path.join(ROOT, '.env.worker.example'), path.join(dir, '.env.worker'));
    fs.copyFileSync(path.join(ROOT, '.env.sync.example'), path.join(dir, '.env.sync'));
    return execFileSync('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), '--env-file', path.join(ROOT, '.env.example'), 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One service's block of the resolved configuration (two-space indented services). */
function serviceBlock(config: string, service: string): string {
  const start = config.indexOf(`\n  ${service}:\n`);
  expect(start).toBeGreaterThan(-1);
  const rest = config.slice(start + service.length + 5);
  const end = rest.search(/\n {2}\S|\n\S/);
  return end === -1 ? rest : rest.slice(0, end);
}

/** The `environment:` keys of one service's block. */
function environmentOf(block: string): Set<string> {
  const env = /\n {4}environment:\n((?: {6}.*\n)*)/.exec(`\n${block}\n`)?.[1] ?? '';
  return new Set([...env.matchAll(/^ {6}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
}

const missingFrom = (wanted: Iterable<string>, have: Set<string> | string) =>
  [...wanted].filter((name) => (typeof have === 'string' ? !new RegExp(`\\b${name}\\b`).test(have) : !have.has(name)));

describe('deployment files', () => {
  it('finds the variables the worker and the CLI read', () => {
    expect([...WORKER_VARIABLES]).toEqual(expect.arrayContaining(['WHATSAPP_NODE_API_KEY', 'PORT', 'HOST', 'LOG_DIR']));
    expect([...CLI_VARIABLES]).toEqual(expect.arrayContaining(['DATABASE_URL', 'WHATSAPP_NODE_SERVICE_URL', 'WA_SYNC_AUDIT_LOG']));
  });

  it('documents every variable of the worker and the CLI in its own env file example and in the README table', () => {
    const readmeTable = read('README.md')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .join('\n');

    expect(missingFrom(WORKER_VARIABLES, read('.env.worker.example'))).toEqual([]);
    expect(missingFrom(CLI_VARIABLES, read('.env.sync.example'))).toEqual([]);
    expect(missingFrom(new Set([...WORKER_VARIABLES, ...CLI_VARIABLES]), readmeTable)).toEqual([]);
  });

  it('keeps DATABASE_URL out of the single worker: its container holds none, its env file only a commented-out line for the postgres store', () => {
    const config = resolvedCompose();
    const worker = serviceBlock(config, 'wa-worker');

    expect(read('.env.worker.example')).not.toMatch(/^\s*DATABASE_URL=/m);
    expect(read('.env.worker.example')).toMatch(/^# WHATSAPP_AUTH_STORE=local$/m);
    expect([...environmentOf(worker)]).toEqual(expect.arrayContaining(['WHATSAPP_NODE_API_KEY', 'WHATSAPP_SESSIONS_DIR', 'LOG_DIR']));
    expect(environmentOf(worker).has('DATABASE_URL')).toBe(false);
    expect([...environmentOf(serviceBlock(config, 'wa-sync'))]).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'WHATSAPP_NODE_API_KEY', 'WHATSAPP_NODE_SERVICE_URL', 'WA_SYNC_AUDIT_LOG']),
    );
    expect([...environmentOf(serviceBlock(config, 'migrate'))]).toEqual(['DATABASE_URL']);
  });

  it('bounds the worker container (memory, tasks) and runs the preflight before it', () => {
    const worker = serviceBlock(resolvedCompose(), 'wa-worker');

    expect(worker).toMatch(/\n {4}mem_limit: 3g\n/);
    expect(worker).toMatch(/\n {4}pids_limit: '4096'\n/);
    expect(worker).toContain('\n    - wa-worker --check && exec wa-worker\n');
  });

  it('writes the audit log to a volume only wa-sync mounts', () => {
    const config = resolvedCompose();
    const mounts = (service: string) => [...serviceBlock(config, service).matchAll(/^ {4}- ([\w-]+):(\/[^:\s]*)/gm)].map((m) => ({ volume: m[1], at: m[2] }));
    const folder = path.dirname(/\n {6}WA_SYNC_AUDIT_LOG: (\S+)\n/.exec(serviceBlock(config, 'wa-sync'))![1]!);
    const audit = mounts('wa-sync').find((mount) => mount.at === folder);

    expect(audit).toBeDefined();
    expect(mounts('wa-worker').map((mount) => mount.volume)).not.toContain(audit!.volume);
    expect(mounts('wa-worker').map((mount) => mount.at)).not.toContain(folder);
  });

  it('passes systemd-analyze verify with nothing to say about the units', () => {
    const units = ['wa-worker.service', 'wa-sync.service', 'wa-sync.timer'].map((unit) => path.join(ROOT, 'deploy', 'systemd', unit));
    // It exits 0 even for an unknown key or a bad value (ignored): its output is what tells.
    const run = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });

    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it('runs the worker unit as a user of its own, hardened, bounded, with the preflight first', () => {
    const unit = read('deploy/systemd/wa-worker.service');
    const bin = `/opt/wa-session-sync/packages/worker/${JSON.parse(read('packages/worker/package.json')).bin['wa-worker']}`;
    const memoryMax = /^MemoryMax=(\d+)G$/m.exec(unit)?.[1];
    const memLimit = /mem_limit: \$\{WA_WORKER_MEM_LIMIT:-(\d+)g\}/.exec(read('docker-compose.yml'))?.[1];

    for (const line of ['User=wa-worker', 'ProtectProc=invisible', 'PrivateDevices=yes', `ExecStartPre=/usr/bin/node ${bin} --check`]) {
      expect(unit).toContain(`\n${line}\n`);
    }
    expect(unit.indexOf('ExecStartPre=')).toBeLessThan(unit.indexOf('ExecStart='));
    expect(memoryMax).toBeDefined();
    expect(memLimit).toBe(memoryMax);
    expect(read('.env.example')).toContain(`WA_WORKER_MEM_LIMIT=${memLimit}g\n`);
  });

  it('gives the worker more time to stop than its own shutdown bound (+5 s hard stop in service.ts)', () => {
    const bound = loadConfig({ WHATSAPP_NODE_API_KEY: '5c0f3e9a7b21d4c86e1f0a9b3d7c2e54' }).shutdownTimeoutMs + 5_000;
    const grace = /wa-worker:[\s\S]*?stop_grace_period: (\d+)s/.exec(read('docker-compose.yml'))?.[1];
    const timeout = /^TimeoutStopSec=(\d+)$/m.exec(read('deploy/systemd/wa-worker.service'))?.[1];

    expect(Number(grace) * 1000).toBeGreaterThan(bound);
    expect(Number(timeout) * 1000).toBeGreaterThan(bound);
    expect(read('packages/worker/src/service.ts')).toContain('config.shutdownTimeoutMs + 5000');
  });

  it('starts the bins where the packages put them', () => {
    const workerBin = JSON.parse(read('packages/worker/package.json')).bin['wa-worker'];
    const cliBin = JSON.parse(read('packages/cli/package.json')).bin['wa-sync'];
    const worker = `packages/worker/${workerBin}`;
    const cli = `packages/cli/${cliBin}`;

    expect(read('deploy/systemd/wa-worker.service')).toContain(`ExecStart=/usr/bin/node /opt/wa-session-sync/${worker}\n`);
    expect(read('deploy/systemd/wa-sync.service')).toContain(`ExecStart=/usr/bin/node /opt/wa-session-sync/${cli} sync-sessions --auto-reconnect\n`);
    expect(read('Dockerfile')).toContain(`exec node /app/${worker} "$@"`);
    expect(read('Dockerfile')).toContain(`exec node /app/${cli} "$@"`);
    expect(read('crontab.example')).toContain(`node ${cli} sync-sessions --auto-reconnect;`);
  });

  it('restarts the worker and keeps secrets out of the units and the image', () => {
    const unit = read('deploy/systemd/wa-worker.service');
    for (const line of ['Restart=always', 'KillMode=mixed', 'User=wa-worker', 'EnvironmentFile=/opt/wa-session-sync/.env.worker']) {
      expect(unit).toContain(`\n${line}\n`);
    }
    for (const line of ['User=wa-sync', 'EnvironmentFile=/opt/wa-session-sync/.env.sync']) {
      expect(read('deploy/systemd/wa-sync.service')).toContain(`\n${line}\n`);
    }
    expect(read('docker-compose.yml')).toMatch(/wa-worker:[\s\S]*?restart: unless-stopped/);
    for (const file of ['Dockerfile', 'deploy/systemd/wa-worker.service', 'deploy/systemd/wa-sync.service']) {
      expect(read(file)).not.toMatch(/WHATSAPP_NODE_API_KEY=|POSTGRES_PASSWORD=|WHATSAPP_WEBHOOK_SECRET=/);
    }
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['.env', '**/node_modules']));
  });
});
