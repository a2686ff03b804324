import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { ID_PATTERN_SOURCE, SESSION_STATUSES } from '@wa-session-sync/shared';
import { SessionStateError, WorkerError } from '../errors';
import type { SessionManager } from '../sessions/manager';

const id = { type: 'string', pattern: ID_PATTERN_SOURCE } as const;

const session = {
  type: 'object',
  properties: {
    session_id: { type: 'string' },
    workspace_id: { type: 'string' },
    status: { type: 'string', enum: [...SESSION_STATUSES] },
    phone_number: { type: ['string', 'null'] },
    updated_at: { type: 'string' },
    qr: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    reconnect_attempts: { type: 'integer' },
    last_seen_alive_at: { type: ['string', 'null'] },
  },
} as const;

const error = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const errors = { 400: error, 401: error, 404: error, 409: error };
const sessionParams = { type: 'object', required: ['session_id'], properties: { session_id: id } } as const;
const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { apiKeyQuery: [] }];

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

class UnauthorizedError extends WorkerError {
  constructor() {
    super('unauthorized', 'A valid API key is required (X-API-Key header or api_key query parameter)', 401);
  }
}

/** The `/api/sessions` routes, behind the API key. */
export function sessionRoutes(app: FastifyInstance, options: { manager: SessionManager; apiKey: string }) {
  const { manager } = options;
  const expected = digest(options.apiKey);

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers['x-api-key'];
    const query = (request.query as Record<string, unknown> | undefined)?.api_key;
    const given = typeof header === 'string' ? header : typeof query === 'string' ? query : null;
    // Hashing first makes the comparison constant-time whatever the lengths.
    if (given === null || !timingSafeEqual(digest(given), expected)) throw new UnauthorizedError();
  });

  app.get(
    '/api/sessions',
    {
      schema: {
        summary: 'List sessions',
        security,
        querystring: { type: 'object', properties: { workspace_id: id, api_key: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { sessions: { type: 'array', items: session } } }, ...errors },
      },
    },
    async (request) => {
      const { workspace_id } = request.query as { workspace_id?: string };
      return { sessions: manager.list(workspace_id) };
    },
  );

  app.post(
    '/api/sessions',
    {
      schema: {
        summary: 'Start a session (restores saved auth; QR when none)',
        security,
        body: {
          type: 'object',
          required: ['session_id', 'workspace_id'],
          properties: { session_id: id, workspace_id: id },
        },
        response: { 200: session, 201: session, ...errors },
      },
    },
    async (request, reply) => {
      const { session_id, workspace_id } = request.body as { session_id: string; workspace_id: string };
      const started = manager.start(workspace_id, session_id);
      return reply.code(started.created ? 201 : 200).send(started.session);
    },
  );

  app.get(
    '/api/sessions/:session_id',
    {
      schema: { summary: 'One session', security, params: sessionParams, response: { 200: session, ...errors } },
    },
    async (request) => manager.get((request.params as { session_id: string }).session_id),
  );

  app.get(
    '/api/sessions/:session_id/qr',
    {
      schema: {
        summary: 'The QR to scan, as a string or a PNG (?format=png)',
        security,
        params: sessionParams,
        querystring: {
          type: 'object',
          properties: { format: { type: 'string', enum: ['json', 'png'] }, api_key: { type: 'string' } },
        },
        response: { 200: { type: 'object', properties: { qr: { type: 'string' } } }, ...errors },
      },
    },
    async (request, reply) => {
      const current = manager.get((request.params as { session_id: string }).session_id);
      if (current.status !== 'qr_scanning' || !current.qr) {
        throw new SessionStateError('qr_not_available', `No QR to scan: the session is ${current.status}`);
      }
      if ((request.query as { format?: string }).format === 'png') {
        const png = await QRCode.toBuffer(current.qr, { type: 'png', margin: 2, width: 300 });
        return reply.type('image/png').send(png);
      }
      return { qr: current.qr };
    },
  );

  app.post(
    '/api/sessions/:session_id/reconnect',
    {
      schema: { summary: 'Force cleanup, then start again from saved auth', security, params: sessionParams, response: { 202: session, ...errors } },
    },
    async (request, reply) => {
      const restarted = await manager.reconnect((request.params as { session_id: string }).session_id);
      return reply.code(202).send(restarted);
    },
  );

  app.delete(
    '/api/sessions/:session_id',
    {
      schema: {
        summary: 'Stop a session; keeps saved auth unless logout=true',
        security,
        params: sessionParams,
        querystring: { type: 'object', properties: { logout: { type: 'boolean' }, api_key: { type: 'string' } } },
        response: {
          200: { type: 'object', properties: { session_id: { type: 'string' }, stopped: { type: 'boolean' }, logged_out: { type: 'boolean' } } },
          ...errors,
        },
      },
    },
    async (request) => {
      const { session_id } = request.params as { session_id: string };
      const logout = (request.query as { logout?: boolean }).logout === true;
      await manager.stop(session_id, { logout });
      return { session_id, stopped: true, logged_out: logout };
    },
  );
}
