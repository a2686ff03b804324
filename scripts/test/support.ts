import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
    private readonly server: http.Server,
    private route: (req: SeenRequest) => Answer,
  ) {}

  static async start(route: (req: SeenRequest) => Answer): Promise<StandIn> {
    let standIn: StandIn | undefined;
    const server = http.createServer((req, res) => standIn!.handle(req, res));
    standIn = new StandIn(server, route);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
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
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
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

/** A port on which nothing listens (bound, then released). */
export async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the scripts with bash in a clean environment: only PATH and HOME are inherited, so
 * no WHATSAPP_* or DATABASE_URL of the machine leaks in.
 */
export function startScript(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): { child: ChildProcess; done: Promise<Run>; stdout: () => string } {
  const file = path.isAbsolute(script) ? script : path.join(SCRIPTS_DIR, script);
  const child = spawn('bash', [file, ...args], {
    cwd: options.cwd ?? os.tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout };
}

export function runScript(script: string, args: string[], env: Record<string, string> = {}, options: { cwd?: string } = {}) {
  return startScript(script, args, env, options).done;
}

export async function tempDir(): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), 'wa-scripts-test-'));
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

/** Resolves once `condition` holds, checking every 25 ms (the test's own timeout bounds it). */
export async function until(condition: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 25));
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
