import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  spawnProcess,
  startLocalServer,
  tempDir as makeTempDir,
  type LocalServer,
  type ProcessResult,
  type RunningProcess,
} from '@wa-session-sync/test-support';

export { waitFor } from '@wa-session-sync/test-support';

export const SCRIPTS_DIR = path.resolve(__dirname, '..');

/** One request the stand-in received. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type Answer = { status: number; body: unknown } | 'hang';

/** A real HTTP server on an ephemeral port that answers like (or unlike) a wa-worker. */
export class StandIn {
  readonly requests: SeenRequest[] = [];
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(
    private readonly server: LocalServer,
    private route: (req: SeenRequest) => Answer,
  ) {}

  static async start(route: (req: SeenRequest) => Answer): Promise<StandIn> {
    let standIn: StandIn | undefined;
    const server = await startLocalServer((req, res) => standIn!.handle(req, res));
    standIn = new StandIn(server, route);
    return standIn;
  }

  get url(): string {
    return this.server.url;
  }

  answer(route: (req: SeenRequest) => Answer): void {
    this.route = route;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    this.requests.push(seen);
    const answer = this.route(seen);
    if (answer === 'hang') {
      this.hanging.add(res);
      return;
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const type = typeof answer.body === 'string' ? 'text/html' : 'application/json';
    res.writeHead(answer.status, { 'content-type': type });
    res.end(text);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await this.server.close();
  }
}

/** A worker's `/health` document. */
export function healthDocument(overrides: Record<string, unknown> = {}) {
  return {
    status: 'ok',
    uptime: 1390,
    sessions: { total: 3, connected: 2, by_status: { connected: 2, reconnecting: 1 } },
    memory: { rss: 100_000_000 },
    version: '0.1.0',
    ...overrides,
  };
}

/** A URL on which nothing listens. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

export type Run = ProcessResult;

/**
 * Runs one of the scripts with bash in a clean environment: only PATH and HOME are inherited, so
 * no WHATSAPP_* or DATABASE_URL of the machine leaks in.
 */
export function startScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): RunningProcess {
  const file = path.isAbsolute(script) ? script : path.join(SCRIPTS_DIR, script);
  return spawnProcess('bash', [file, ...args], {
    cwd: options.cwd ?? os.tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...env },
  });
}

export function runScript(script: string, args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}) {
  return startScript(script, args, env, options).done;
}

export function tempDir(): Promise<string> {
  return makeTempDir('wa-scripts-test-');
}

/**
 * A stand-in for the wa-sync binary: appends one JSON line per call to `<dir>/calls.jsonl`
 * (arguments and the environment variables the scripts hand over), prints `stdout`/`stderr`, and
 * exits with `exitCode`. With `holdUntil`, it waits for that file to exist before exiting.
 */
export async function fakeWaSync(
  dir: string,
  behaviour: { stdout?: string; stderr?: string; exitCode?: number; exitCodes?: number[]; holdUntil?: string } = {},
): Promise<{ bin: string; calls: () => Promise<FakeCall[]> }> {
  const bin = path.join(dir, 'fake-wa-sync.js');
  const callsFile = path.join(dir, 'calls.jsonl');
  const program = `#!/usr/bin/env node
const fs = require('node:fs');
const behaviour = ${JSON.stringify(behaviour)};
const callsFile = ${JSON.stringify(callsFile)};
const previous = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8').split('\\n').filter(Boolean).length : 0;
const pick = (name) => process.env[name];
fs.appendFileSync(callsFile, JSON.stringify({
  phase: 'started',
  args: process.argv.slice(2),
  env: {
    WHATSAPP_NODE_API_KEY: pick('WHATSAPP_NODE_API_KEY'),
    WHATSAPP_NODE_SERVICE_URL: pick('WHATSAPP_NODE_SERVICE_URL'),
    DATABASE_URL: pick('DATABASE_URL'),
    WA_SYNC_AUDIT_LOG: pick('WA_SYNC_AUDIT_LOG'),
    NO_COLOR: pick('NO_COLOR'),
  },
}) + '\\n');
const code = behaviour.exitCodes ? behaviour.exitCodes[Math.min(previous, behaviour.exitCodes.length - 1)] : (behaviour.exitCode ?? 0);
function finish() {
  if (behaviour.stdout) process.stdout.write(behaviour.stdout);
  if (behaviour.stderr) process.stderr.write(behaviour.stderr);
  if (behaviour.holdUntil) fs.appendFileSync(callsFile, JSON.stringify({ phase: 'finished' }) + '\\n');
  process.exit(code);
}
if (behaviour.holdUntil) {
  const timer = setInterval(() => { if (fs.existsSync(behaviour.holdUntil)) { clearInterval(timer); finish(); } }, 20);
} else finish();
`;
  await fs.promises.writeFile(bin, program, { mode: 0o755 });
  return {
    bin,
    calls: async () => {
      const text = await fs.promises.readFile(callsFile, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as FakeCall);
    },
  };
}

export interface FakeCall {
  phase: 'started' | 'finished';
  args?: string[];
  env?: Record<string, string | undefined>;
}

/**
 * A fresh folder for every test of the calling `describe`, under one temp folder that is removed
 * after it. Registers the hooks itself; read `.current` inside a test.
 */
export function useCaseDirs(): { readonly current: string } {
  let root = '';
  let current = '';
  let caseNumber = 0;
  beforeAll(async () => {
    root = await tempDir();
  });
  afterAll(async () => {
    await fs.promises.rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    current = path.join(root, `case-${++caseNumber}`);
    await fs.promises.mkdir(current);
  });
  return {
    get current() {
      return current;
    },
  };
}
