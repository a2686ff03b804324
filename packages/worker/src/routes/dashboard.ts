import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthThrottle } from '../auth-throttle';
import type { Logger } from '../log';
import type { SessionManager } from '../sessions/manager';
import { ownOrigin, type DashboardSignIns } from './dashboard-auth';
import { subscribeToSessionChanges } from './dashboard-events';

/** The page's own files (`packages/worker/dashboard/`, shipped beside `dist/`). */
const DASHBOARD_DIR = path.resolve(__dirname, '..', '..', 'dashboard');

/** Every file served under `/dashboard/static/`, with its type: nothing else is reachable. */
const ASSETS: Record<string, { type: string; file: () => string }> = {
  'app.js': { type: 'text/javascript; charset=utf-8', file: () => path.join(DASHBOARD_DIR, 'app.js') },
  'style.css': { type: 'text/css; charset=utf-8', file: () => path.join(DASHBOARD_DIR, 'style.css') },
  // preact and htm in one ES module of 4.5 kB (htm's own build): no bundler, no import map (which
  // would be an inline script the CSP refuses). Found beside htm's main file: its exports map has
  // no entry for the browser build that `require` can resolve.
  'preact-htm.js': { type: 'text/javascript; charset=utf-8', file: () => path.join(path.dirname(require.resolve('htm')), '..', 'preact', 'standalone.module.js') },
};

/**
 * No inline script or style, nothing from another origin, never framed, forms and fetches only to
 * the worker itself. `data:` images: the favicon is an empty `data:` URL (no request, no 404).
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Not `no-referrer`: Chrome then sends `Origin: null` on the page's own form posts, which the
  // Origin check must refuse.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

/** Between two sends of the list when nothing changed: under the probe's 30 s, and under idle timeouts. */
const HEARTBEAT_MS = 15_000;

export interface DashboardOptions {
  manager: SessionManager;
  signIns: DashboardSignIns;
  throttle: AuthThrottle;
  logger: Logger;
}

/**
 * `/dashboard`: the operator's live page. `GET /dashboard` answers the sign-in form, or the page
 * when signed in; `POST /dashboard/sign-in` exchanges the key (a form field) for the session
 * cookie; `POST /dashboard/sign-out` ends it; `GET /dashboard/events` streams every session
 * (Server-Sent Events) to a signed-in page. The page acts through the `/api/*` routes, which accept
 * the cookie (see `DashboardSignIns.authenticates`).
 */
export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { manager, signIns, throttle, logger } = options;
  const cache = new Map<string, Buffer>();
  const hidden = { schema: { hide: true } };
  /** Open streams by sign-in token: a sign-out or the worker's close ends them. */
  const streams = new Map<string, Set<ServerResponse>>();

  const file = async (name: string, fullPath: string) => {
    let body = cache.get(name);
    if (!body) {
      body = await readFile(fullPath);
      cache.set(name, body);
    }
    return body;
  };

  // The sign-in form's body; only here, only small (the root refuses every type but JSON).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });

  /** Why the last sign-in failed, by the code in `?sign-in=` (a fixed sentence, never input). */
  const SIGN_IN_FAILURES: Record<string, string> = {
    'wrong-key': 'Wrong API key.',
    throttled: 'Too many wrong keys from this address: wait a minute, then try again.',
    'other-origin': 'Sign in from this page.',
  };
  const signInPage = async (reply: FastifyReply, failure: string | undefined) => {
    const template = (await file('sign-in.html', path.join(DASHBOARD_DIR, 'sign-in.html'))).toString('utf8');
    const message = failure !== undefined && Object.hasOwn(SIGN_IN_FAILURES, failure) ? SIGN_IN_FAILURES[failure] : undefined;
    const page = template.replace('<!--MESSAGE-->', message ? `<p class="sign-in-error" role="alert">${message}</p>` : '');
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
  };
  // A failed sign-in answers a redirect back to the form (post/redirect/get): a reload does not post
  // the key again, and the browser logs no failed load (a 401 page would be a console error).
  const failedSignIn = (reply: FastifyReply, failure: keyof typeof SIGN_IN_FAILURES) => reply.redirect(`/dashboard?sign-in=${failure}`, 303);

  app.get<{ Querystring: { 'sign-in'?: string } }>('/dashboard', hidden, async (request, reply) => {
    if (!signIns.signedIn(request)) return signInPage(reply, request.query['sign-in']);
    const page = await file('index.html', path.join(DASHBOARD_DIR, 'index.html'));
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
  });
  app.get('/dashboard/', hidden, (_request, reply) => reply.redirect('/dashboard'));

  app.post<{ Body: { key?: unknown } | undefined }>('/dashboard/sign-in', hidden, async (request, reply) => {
    // Not a state change another page could make for the operator (it would need the key), but
    // a sign-in forced from elsewhere is refused all the same.
    if (request.headers.origin !== undefined && request.headers.origin !== ownOrigin(request)) return failedSignIn(reply, 'other-origin');
    if (throttle.refusedFor(request.ip) !== undefined) return failedSignIn(reply, 'throttled');
    const key = request.body?.key;
    if (typeof key !== 'string' || !signIns.keyMatches(key)) {
      if (throttle.failed(request.ip)) logger.warn('Failed API key attempts: address throttled', { address: request.ip, retryAfterSec: throttle.refusedFor(request.ip) });
      return failedSignIn(reply, 'wrong-key');
    }
    const token = signIns.create();
    logger.info('Dashboard sign-in', { address: request.ip });
    return reply.header('set-cookie', signIns.cookie(request, token)).redirect('/dashboard', 303);
  });

  app.post('/dashboard/sign-out', hidden, async (request, reply) => {
    const token = signIns.tokenOf(request);
    // A page of another origin must not sign the operator out either.
    if (token && request.headers.origin === ownOrigin(request)) {
      signIns.end(token);
      for (const stream of streams.get(token) ?? []) stream.end();
      streams.delete(token);
    }
    return reply.header('set-cookie', signIns.clearCookie(request)).redirect('/dashboard', 303);
  });

  app.get<{ Params: { file: string } }>('/dashboard/static/:file', hidden, async (request, reply) => {
    const asset = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
    if (!asset) return reply.code(404).send({ error: { code: 'not_found', message: 'No such dashboard file' } });
    return reply.type(asset.type).header('cache-control', 'no-cache').send(await file(request.params.file, asset.file()));
  });

  app.get('/dashboard/events', { ...hidden, config: { stream: true } }, (request: FastifyRequest, reply: FastifyReply) => {
    const token = signIns.signedIn(request);
    if (!token) return reply.code(401).send({ error: { code: 'unauthorized', message: 'Sign in at /dashboard' } });
    openStream(request, reply, token);
  });

  function openStream(request: FastifyRequest, reply: FastifyReply, token: string): void {
    reply.hijack();
    const raw = reply.raw;
    // A stream route (`streams.ts`): no idle timeout on its socket, ended when the worker closes;
    // the heartbeat keeps proxies in between from closing it.
    raw.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let pending = false;
    const sendSessions = () => {
      pending = false;
      if (!signIns.valid(token)) return raw.end();
      raw.write(`event: sessions\ndata: ${JSON.stringify({ sessions: manager.list() })}\n\n`);
    };
    // A burst of changes (a stop: its status, then its removal) is sent once, after the manager
    // has finished the change: the list is then what `GET /api/sessions` answers.
    const changed = () => {
      if (pending) return;
      pending = true;
      setImmediate(sendSessions);
    };
    raw.write('retry: 2000\n\n');
    sendSessions();
    const unsubscribe = subscribeToSessionChanges(manager.bus, changed);
    // The heartbeat is the list again: it keeps proxies and idle timers from closing the stream,
    // and refreshes what changes without a status event (last seen alive, after every probe).
    const heartbeat = setInterval(changed, HEARTBEAT_MS);
    const open = streams.get(token) ?? new Set<ServerResponse>();
    open.add(raw);
    streams.set(token, open);
    raw.on('close', () => {
      unsubscribe();
      clearInterval(heartbeat);
      open.delete(raw);
      if (open.size === 0 && streams.get(token) === open) streams.delete(token);
    });
  }
}
