import type { IncomingMessage, ServerResponse } from 'node:http';
import { SimulatorError } from './errors';
import { readJson, sendJson } from './http';
import type { SettableState, WhatsAppSimulator } from './simulator';

type Handler = (simulator: WhatsAppSimulator, body: Record<string, unknown>) => unknown;

// The simulator's operations validate their arguments themselves, so the HTTP body is passed on as it is.
const ROUTES: Record<string, { method: 'GET' | 'POST'; handle: Handler }> = {
  '/control/pages': { method: 'GET', handle: (sim) => ({ pages: sim.pages() }) },
  '/control/outbound': { method: 'GET', handle: (sim) => ({ outbound: sim.outbound }) },
  '/control/double-logins': { method: 'GET', handle: (sim) => ({ doubleLogins: sim.doubleLogins() }) },
  '/control/scan': {
    method: 'POST',
    handle: (sim, { qr, phone }) => (sim.scan(qr as string, phone as string), { ok: true }),
  },
  '/control/pairing-code': {
    method: 'POST',
    handle: (sim, { code, phone }) => (sim.enterCode(code as string, phone as string), { ok: true }),
  },
  '/control/message': {
    method: 'POST',
    handle: (sim, { phone, from, body }) => ({ id: sim.sendMessage(phone as string, from as string, body as string) }),
  },
  '/control/state': {
    method: 'POST',
    handle: (sim, { phone, state }) => (sim.setState(phone as string, state as SettableState), { ok: true }),
  },
  '/control/logout': { method: 'POST', handle: (sim, { phone }) => (sim.logout(phone as string), { ok: true }) },
  '/control/hang': { method: 'POST', handle: (sim, { phone }) => (sim.hang(phone as string), { ok: true }) },
};

/** The HTTP control API: the in-process operations, over `GET|POST /control/<op>` with JSON. */
export async function handleControl(
  simulator: WhatsAppSimulator,
  pathname: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const route = ROUTES[pathname];
  if (!route) throw new SimulatorError('NOT_FOUND', `no control route ${pathname}`);
  if (request.method !== route.method) {
    throw new SimulatorError('METHOD_NOT_ALLOWED', `${pathname} accepts ${route.method} only`);
  }
  const body = route.method === 'POST' ? await readJson(request) : {};
  sendJson(response, 200, route.handle(simulator, body));
}
