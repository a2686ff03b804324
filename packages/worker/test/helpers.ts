import fs from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { WebhookEvent } from '@wa-session-sync/shared';

export const API_KEY = 'test-key-3f9a1c';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `wa-worker-${prefix}-`));
}

/** Pids of processes whose command line mentions `text` (the test's temp dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A webhook receiver that records what it gets (raw body and headers). */
export interface Receiver {
  url: string;
  received: Array<{ raw: string; signature: string | undefined; event: WebhookEvent }>;
  close(): Promise<void>;
}

export async function startReceiver(answer: () => number = () => 200): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const status = answer();
      if (status < 300) {
        received.push({ raw, signature: req.headers['x-signature'] as string | undefined, event: JSON.parse(raw) as WebhookEvent });
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

export const WORKER_BIN = path.join(__dirname, '..', 'dist', 'main.js');

/** The built worker (`dist/main.js`) as a child process. */
export interface WorkerProcess {
  url: string;
  child: import('node:child_process').ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  api(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
}

export async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [WORKER_BIN], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', WHATSAPP_NODE_API_KEY: API_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${output}`);
      const match = /"message":"wa-worker listening","port":(\d+)/.exec(output) ?? /"port":(\d+)[^\n]*wa-worker listening/.exec(output);
      return match ? Number(match[1]) : undefined;
    },
    'the worker to listen',
    15_000,
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    output: () => output,
    exited,
    async api(method, route, body, headers = { 'x-api-key': API_KEY }) {
      const response = await fetch(url + route, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : null };
    },
  };
}

/** Pids of Chromium browser processes (not helpers) running on a profile under `dir`. */
export function browserProcesses(dir: string): number[] {
  return processesMentioning(`--user-data-dir=${dir}`).filter((pid) => {
    try {
      return !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=');
    } catch {
      return false;
    }
  });
}
