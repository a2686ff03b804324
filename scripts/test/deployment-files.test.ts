import fs from 'node:fs';
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

/** The `environment:` keys of one service of docker-compose.yml. */
function composeEnvironment(service: string): Set<string> {
  const text = read('docker-compose.yml');
  const start = text.indexOf(`\n  ${service}:\n`);
  expect(start).toBeGreaterThan(-1);
  const rest = text.slice(start + service.length + 5);
  const end = rest.search(/\n {2}\S|\n\S/);
  const block = end === -1 ? rest : rest.slice(0, end);
  return new Set([...block.matchAll(/^ {6}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
}

const missingFrom = (wanted: Iterable<string>, have: Set<string> | string) =>
  [...wanted].filter((name) => (typeof have === 'string' ? !new RegExp(`\\b${name}\\b`).test(have) : !have.has(name)));

describe('deployment files', () => {
  it('finds the variables the worker and the CLI read', () => {
    expect([...WORKER_VARIABLES]).toEqual(expect.arrayContaining(['WHATSAPP_NODE_API_KEY', 'PORT', 'HOST', 'LOG_DIR']));
    expect([...CLI_VARIABLES]).toEqual(expect.arrayContaining(['DATABASE_URL', 'WHATSAPP_NODE_SERVICE_URL', 'WA_SYNC_AUDIT_LOG']));
  });

  it('documents every variable of the worker and the CLI in .env.example and in the README table', () => {
    const example = read('.env.example');
    const readmeTable = read('README.md')
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .join('\n');
    const all = new Set([...WORKER_VARIABLES, ...CLI_VARIABLES]);

    expect(missingFrom(all, example)).toEqual([]);
    expect(missingFrom(all, readmeTable)).toEqual([]);
  });

  it('hands every worker variable to the worker container', () => {
    expect(missingFrom(WORKER_VARIABLES, composeEnvironment('wa-worker'))).toEqual([]);
  });

  it('hands the CLI its variables in the sync and migrate containers', () => {
    // Not in compose on purpose: the embedded database (compose has Postgres) and the benchmark switch.
    const notForCompose = new Set(['WA_SYNC_DATA_DIR', 'WA_SYNC_REPORT_MAX_RSS']);
    const wanted = [...CLI_VARIABLES].filter((name) => !notForCompose.has(name));

    expect(missingFrom(wanted, composeEnvironment('wa-sync'))).toEqual([]);
    expect([...composeEnvironment('migrate')]).toEqual(['DATABASE_URL']);
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
    for (const line of ['Restart=always', 'KillMode=mixed', 'User=wa-sync', 'EnvironmentFile=/opt/wa-session-sync/.env']) {
      expect(unit).toContain(`\n${line}\n`);
    }
    expect(read('docker-compose.yml')).toMatch(/wa-worker:[\s\S]*?restart: unless-stopped/);
    for (const file of ['Dockerfile', 'deploy/systemd/wa-worker.service', 'deploy/systemd/wa-sync.service']) {
      expect(read(file)).not.toMatch(/WHATSAPP_NODE_API_KEY=|POSTGRES_PASSWORD=|WHATSAPP_WEBHOOK_SECRET=/);
    }
    expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['.env', '**/node_modules']));
  });
});
