import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type QRCodeModule from 'qrcode';
import {
  CreateSessionRequestSchema,
  ErrorResponseSchema,
  ListSessionsQuerySchema,
  PairingCodeRequestSchema,
  PairingCodeResponseSchema,
  QrPngSchema,
  QrQuerySchema,
  QrResponseSchema,
  SessionEventsQuerySchema,
  SessionEventsResponseSchema,
  SessionParamsSchema,
  SessionsListResponseSchema,
  StopSessionQuerySchema,
  StopSessionResponseSchema,
  WorkerSessionSchema,
} from '@wa-session-sync/shared';
import { apiKeyOf, failedAuthentication, refuseThrottled, secretMatcher } from '../auth';
import type { AuthThrottle } from '../auth-throttle';
import { SessionNotFoundError, SessionStateError, WorkerError } from '../errors';
import type { Logger } from '../log';
import type { SessionHistory } from '../sessions/history';
import type { SessionManager } from '../sessions/manager';
import type { DashboardSignIns } from './dashboard-auth';

const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  403: ErrorResponseSchema,
  404: ErrorResponseSchema,
  409: ErrorResponseSchema,
  413: ErrorResponseSchema,
  415: ErrorResponseSchema,
  429: ErrorResponseSchema,
  500: ErrorResponseSchema,
  503: ErrorResponseSchema,
};
const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { apiKeyQuery: [] }];


/** The `/api/sessions` routes, behind the API key. */
export function sessionRoutes(instance: FastifyInstance, options: { manager: SessionManager; apiKey: string; throttle: AuthThrottle; logger: Logger; signIns?: DashboardSignIns; history?: SessionHistory }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { manager } = options;
  const isApiKey = secretMatcher(options.apiKey);

  app.addHook('onRequest', async (request: FastifyRequest) => {
    refuseThrottled(request, options.throttle);
    const given = apiKeyOf(request);
    // Without a key, the dashboard's sign-in cookie (a state change must then come from its origin).
    if (given === null && options.signIns?.authenticates(request)) return;
    if (!isApiKey(given)) failedAuthentication(request, options.throttle, options.logger, 'A valid API key is required (X-API-Key header or api_key query parameter)');
  });

  app.get(
    '/api/sessions',
    {
      schema: {
        summary: 'List sessions',
        security,
        querystring: ListSessionsQuerySchema,
        response: { 200: SessionsListResponseSchema, ...errors },
      },
    },
    async (request) => ({ sessions: manager.list(request.query.workspace_id) }),
  );

  app.post(
    '/api/sessions',
    {
      schema: {
        summary: 'Start a session (restores saved auth; QR when none)',
        security,
        body: CreateSessionRequestSchema,
        response: { 200: WorkerSessionSchema, 201: WorkerSessionSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { session_id, workspace_id } = request.body;
      const started = await manager.claimAndStart(workspace_id, session_id);
      return reply.code(started.created ? 201 : 200).send(started.session);
    },
  );

  app.get(
    '/api/sessions/:session_id',
    {
      schema: { summary: 'One session', security, params: SessionParamsSchema, response: { 200: WorkerSessionSchema, ...errors } },
    },
    async (request) => manager.get(request.params.session_id),
  );

  const { history } = options;
  if (history) {
    app.get(
      '/api/sessions/:session_id/events',
      {
        schema: {
          summary: "The session's history: status changes, worker starts and stops (?since=<ISO time>)",
          description:
            'Oldest first; 30 days or 2,000 entries at most. A worker start or stop is an entry with `from` and `to` null and `reason` `WORKER_STARTED` or `WORKER_STOPPED` (after a crash, the stop is dated at the last heartbeat). Known sessions only: held now, or saved on disk.',
          security,
          params: SessionParamsSchema,
          querystring: SessionEventsQuerySchema,
          response: { 200: SessionEventsResponseSchema, ...errors },
        },
      },
      async (request) => {
        const { session_id } = request.params;
        const { since } = request.query;
        // Date.parse alone takes "1" or "March 7" as a date: an ISO-8601 shape is asked for first.
        const sinceMs = since === undefined ? null : /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since) ? Date.parse(since) : NaN;
        if (sinceMs !== null && !Number.isFinite(sinceMs)) throw new WorkerError('invalid_request', '`since` must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z', 400);
        const known = manager.session(session_id);
        const saved = known ? null : (await manager.savedSessions()).find((entry) => entry.sessionId === session_id);
        const where = known ?? (saved ? { workspaceId: saved.workspaceId, sessionId: saved.sessionId, folder: saved.folder } : null);
        if (!where) throw new SessionNotFoundError(session_id);
        return { events: history.entries(where.workspaceId, where.sessionId, where.folder, sinceMs === null ? undefined : new Date(sinceMs)) };
      },
    );
  }

  app.get(
    '/api/sessions/:session_id/qr',
    {
      schema: {
        summary: 'The QR to scan, as a string or a PNG (?format=png)',
        security,
        params: SessionParamsSchema,
        querystring: QrQuerySchema,
        response: {
          200: { content: { 'application/json': { schema: QrResponseSchema }, 'image/png': { schema: QrPngSchema } } },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const current = manager.get(request.params.session_id);
      const { format, v } = request.query;
      // The image of the QR the page names, while it is still shown or was a moment ago.
      const qr = format === 'png' && v !== undefined ? (manager.recentQr(current.session_id, v) ?? current.qr) : current.qr;
      if (!qr || (current.status !== 'qr_scanning' && qr === current.qr)) {
        throw new SessionStateError('qr_not_available', `No QR to scan: the session is ${current.status}`);
      }
      if (format === 'png') {
        // Loaded on the first PNG asked for: qrcode and pngjs are 57 modules every start would load.
        const QRCode = require('qrcode') as typeof QRCodeModule;
        const png = await QRCode.toBuffer(qr, { type: 'png', margin: 2, width: 300 });
        return reply.type('image/png').send(png);
      }
      return { qr };
    },
  );

  app.post(
    '/api/sessions/:session_id/pairing-code',
    {
      schema: {
        summary: 'A code to enter on the phone instead of scanning the QR (while qr_scanning; 409 not_pairing otherwise)',
        description:
          'On the phone: WhatsApp › Linked devices › Link a device › Link with phone number instead, then enter the code. The code is also shown on the session as `pairing_code`, refreshed by WhatsApp every 3 minutes; a new request replaces it.',
        security,
        params: SessionParamsSchema,
        body: PairingCodeRequestSchema,
        response: { 200: PairingCodeResponseSchema, ...errors },
      },
    },
    async (request) => ({ code: await manager.requestPairingCode(request.params.session_id, request.body.phone_number) }),
  );

  app.post(
    '/api/sessions/:session_id/reconnect',
    {
      schema: {
        summary: 'Force cleanup, then start again from saved auth',
        security,
        params: SessionParamsSchema,
        response: { 202: WorkerSessionSchema, ...errors },
      },
    },
    async (request, reply) => {
      const restarted = await manager.reconnect(request.params.session_id);
      return reply.code(202).send(restarted);
    },
  );

  app.delete(
    '/api/sessions/:session_id',
    {
      schema: {
        summary: 'Stop a session; keeps saved auth unless logout=true',
        security,
        params: SessionParamsSchema,
        querystring: StopSessionQuerySchema,
        response: { 200: StopSessionResponseSchema, ...errors },
      },
    },
    async (request) => {
      const { session_id } = request.params;
      const logout = request.query.logout === true;
      await manager.stop(session_id, { logout });
      return { session_id, stopped: true, logged_out: logout };
    },
  );
}
