import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { buildApp } from '../src/app';
import { findChromium } from '../src/browser/launch';
import { WebhookDispatcher, type EventSink } from '../src/events/webhook';
import { createLogger, type Logger, closeLogger } from '../src/log';
import { SessionManager, type ManagerOptions } from '../src/sessions/manager';
import { WwebjsDriver } from '../src/sessions/wwebjs-driver';

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

/** A worker in this process: real manager + real whatsapp-web.js driver + the Fastify app. */
export interface InProcessWorker {
  sim: Simulator;
  dir: string;
  sessionsDir: string;
  logDir: string;
  manager: SessionManager;
  app: FastifyInstance;
  logger: Logger;
  webhook: WebhookDispatcher | null;
  api(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object): Promise<{ status: number; json: any }>;
  status(sessionId: string): string | undefined;
  close(): Promise<void>;
}

export async function startInProcessWorker(
  options: { webhookUrl?: string; manager?: Partial<ManagerOptions>; prefix?: string } = {},
): Promise<InProcessWorker> {
  const sim = await startSimulator({ quiet: true });
  const dir = await tempDir(options.prefix ?? 'it');
  const sessionsDir = path.join(dir, 'sessions');
  const logDir = path.join(dir, 'logs');
  const logger = createLogger({ logDir, level: 'debug' });
  const webhook = options.webhookUrl
    ? new WebhookDispatcher({ url: options.webhookUrl, secret: 'hook-secret', logger, retryBaseMs: 50 })
    : null;
  const events: EventSink = webhook ?? { publish() {} };
  const manager = new SessionManager({
    sessionsDir,
    driver: new WwebjsDriver({
      executablePath: findChromium(undefined),
      sessionsDir,
      browserArgs: sim.chromiumArgs(),
      webVersionCache: 'none',
    }),
    logger,
    events,
    autoReconnect: true,
    maxReconnectAttempts: 3,
    reconnectBaseDelayMs: 100,
    reconnectMaxDelayMs: 400,
    probeTimeoutMs: 1500,
    initTimeoutMs: 30_000,
    ...options.manager,
  });
  const app = await buildApp({ apiKey: API_KEY, manager, logger });
  return {
    sim,
    dir,
    sessionsDir,
    logDir,
    manager,
    app,
    logger,
    webhook,
    async api(method, url, body) {
      const response = await app.inject({ method, url, payload: body, headers: { 'x-api-key': API_KEY } });
      return { status: response.statusCode, json: response.body ? JSON.parse(response.body) : null };
    },
    status(sessionId) {
      return manager.list().find((s) => s.session_id === sessionId)?.status;
    },
    async close() {
      await manager.shutdown(5000).catch(() => undefined);
      await app.close();
      await webhook?.close(500);
      await sim.stop();
      await closeLogger(logger);
      await waitFor(() => processesMentioning(sessionsDir).length === 0, 'Chromium of the test to exit', 10_000).catch(
        () => undefined,
      );
      for (const pid of processesMentioning(sessionsDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
