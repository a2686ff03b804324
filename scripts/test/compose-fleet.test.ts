import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

// docker-compose.fleet.yml (two workers and the controller) as docker-compose resolves it, with
// the same example files CI gives docker-compose.yml: `config -q` passes, and the resolved file
// holds what a fleet needs. Debian's docker-compose 1.29 needs no Docker engine for this.
const ROOT = path.resolve(__dirname, '..', '..');

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/** `docker-compose -f <copy of docker-compose.fleet.yml> --env-file .env.example <args>` beside the process files' examples. */
function compose(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-compose-fleet-'));
  try {
    fs.copyFileSync(path.join(ROOT, 'docker-compose.fleet.yml'), path.join(dir, 'docker-compose.fleet.yml'));
    fs.copyFileSync(path.join(ROOT, '.env.worker.example'), path.join(dir, '.env.worker'));
    fs.copyFileSync(path.join(ROOT, '.env.sync.example'), path.join(dir, '.env.sync'));
    const run = spawnSync('docker-compose', ['-f', path.join(dir, 'docker-compose.fleet.yml'), '--env-file', path.join(ROOT, '.env.example'), ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    if (run.error) throw new Error(`docker-compose could not run (${run.error.message}): install it (Debian/Ubuntu: apt-get install docker-compose)`);
    return run;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('docker-compose.fleet.yml', () => {
  let services: Record<string, Service>;
  beforeAll(() => {
    const run = compose(['config']);
    if (run.status !== 0) throw new Error(`docker-compose config exited ${run.status}: ${run.stderr}`);
    services = parse(run.stdout).services;
  });

  it('passes docker-compose config -q', () => {
    const run = compose(['config', '-q']);

    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it('runs Postgres, the migration, two workers and the controller', () => {
    expect(Object.keys(services).sort()).toEqual(['migrate', 'postgres', 'wa-sync', 'wa-worker-1', 'wa-worker-2']);
  });

  it('gives each worker its own id and sessions volume, and both the Postgres auth store on the shared database', () => {
    const workers = ['wa-worker-1', 'wa-worker-2'].map((name) => ({ name, service: services[name]! }));
    const database = services['migrate']!.environment!.DATABASE_URL;

    expect(database).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    for (const { name, service } of workers) {
      expect({ name, env: service.environment }).toEqual({
        name,
        env: expect.objectContaining({ WHATSAPP_WORKER_ID: name, WHATSAPP_AUTH_STORE: 'postgres', DATABASE_URL: database, WHATSAPP_SESSIONS_DIR: '/data/sessions' }),
      });
      expect(service.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    }
    const sessionVolumes = workers.map(({ service }) => service.volumes!.find((volume) => volume.split(':')[1] === '/data/sessions'));
    expect(new Set(sessionVolumes).size).toBe(2);
    expect(new Set(workers.map(({ service }) => service.ports![0])).size).toBe(2);
  });

  it('runs the controller in --watch mode over both workers, on the same database', () => {
    const controller = services['wa-sync']!;
    const urls = controller.environment!.WHATSAPP_NODE_SERVICE_URLS!.split(',');

    expect(controller.command).toEqual(expect.arrayContaining(['wa-sync', 'sync-sessions', '--watch']));
    expect(urls).toEqual(['wa-worker-1', 'wa-worker-2'].map((name) => `http://${name}:${services[name]!.environment!.PORT}`));
    // .env.sync's single-worker URL is blanked (empty counts as unset).
    expect(controller.environment!.WHATSAPP_NODE_SERVICE_URL).toBe('');
    expect(controller.environment!.DATABASE_URL).toBe(services['migrate']!.environment!.DATABASE_URL);
  });
});
