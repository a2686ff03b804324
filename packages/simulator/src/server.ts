import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createCertificate } from './certificate';
import { handleControl } from './control';
import { readJson, sendError, sendJson } from './http';
import { WhatsAppSimulator, type PageChannel, type PageReport } from './simulator';

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  /** port to listen on; default 0 = an ephemeral port */
  port?: number;
  /** address to listen on; default 127.0.0.1 */
  host?: string;
  /** false: write one JSON line per page event and control action to stdout; default true */
  quiet?: boolean;
}

// Read once: `assets/` sits beside `src/` (jest) and `dist/` (built), so one relative path serves both.
const ASSETS_DIR = path.join(__dirname, '..', 'assets');
const PAGE_HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>WhatsApp</title></head>' +
  '<body><div id="app">simulated WhatsApp Web</div><script src="/sim/page.js"></script></body></html>';

/** A running simulator: the simulated WhatsApp side plus the HTTPS server Chromium talks to. */
export class Simulator extends WhatsAppSimulator {
  private constructor(
    private readonly server: Server,
    readonly port: number,
    /** the PEM certificate the server presents (web.whatsapp.com, localhost, 127.0.0.1) */
    readonly certificate: string,
    log: (entry: object) => void,
  ) {
    super(log);
  }

  /** e.g. https://127.0.0.1:PORT (self-signed: trust {@link certificate} or skip verification) */
  get controlUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Chromium arguments that send web.whatsapp.com to this simulator and accept its certificate. */
  chromiumArgs(): string[] {
    return [`--host-resolver-rules=MAP web.whatsapp.com:443 127.0.0.1:${this.port}`, '--ignore-certificate-errors'];
  }

  /** Closes every page connection and the server. */
  async stop(): Promise<void> {
    this.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** @internal */
  static async start(options: SimulatorOptions = {}): Promise<Simulator> {
    const { key, cert } = await createCertificate();
    const pageScript = readFileSync(path.join(ASSETS_DIR, 'page.js'));
    const log = options.quiet === false ? (entry: object) => process.stdout.write(JSON.stringify(entry) + '\n') : () => {};
    const server = createServer({ key, cert });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const simulator = new Simulator(server, (server.address() as AddressInfo).port, cert, log);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      route(simulator, pageScript, request, response).catch((error: unknown) => {
        if (!response.headersSent) sendError(response, error);
        else response.destroy();
      });
    });
    return simulator;
  }
}

/** Starts the simulated web.whatsapp.com on loopback (HTTPS, self-signed) and resolves once it listens. */
export function startSimulator(options?: SimulatorOptions): Promise<Simulator> {
  return Simulator.start(options);
}

async function route(simulator: Simulator, pageScript: Buffer, request: IncomingMessage, response: ServerResponse) {
  const url = new URL(request.url ?? '/', 'https://web.whatsapp.com');
  const { pathname } = url;
  if (pathname.startsWith('/control/')) return handleControl(simulator, pathname, request, response);
  if (request.method === 'GET' && pathname === '/') return sendText(response, 'text/html; charset=utf-8', PAGE_HTML);
  if (request.method === 'GET' && pathname === '/sim/page.js') return sendText(response, 'application/javascript', pageScript);
  if (request.method === 'GET' && pathname === '/sim/events') return openEvents(simulator, url, request, response);
  if (request.method === 'POST' && pathname === '/sim/report') {
    const { page, ...report } = await readJson(request);
    simulator.applyReport(String(page), report as PageReport);
    return noContent(response);
  }
  if (request.method === 'POST' && pathname === '/sim/pairing-code') {
    const { page, phone } = await readJson(request);
    return sendJson(response, 200, { code: simulator.requestPairingCode(String(page), phone) });
  }
  if (request.method === 'POST' && pathname === '/sim/outbound') {
    const { page, to, body, id } = await readJson(request);
    simulator.recordOutbound(String(page), { to: String(to), body: String(body), id: String(id) });
    return noContent(response);
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('not found');
}

/** The page's EventSource: the simulator pushes events down it for as long as the page is open. */
function openEvents(simulator: Simulator, url: URL, request: IncomingMessage, response: ServerResponse) {
  const pageId = url.searchParams.get('page') ?? '';
  const device = url.searchParams.get('device') ?? '';
  const phone = url.searchParams.get('phone') ?? '';
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  response.write(': connected\n\n');
  const channel: PageChannel = {
    send: (event, data) => {
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close: () => response.end(),
  };
  request.on('close', () => simulator.detachPage(pageId));
  simulator.attachPage(pageId, device && phone ? { device, phone } : null, channel);
}

function sendText(response: ServerResponse, contentType: string, body: string | Buffer) {
  response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

function noContent(response: ServerResponse) {
  response.writeHead(204);
  response.end();
}
