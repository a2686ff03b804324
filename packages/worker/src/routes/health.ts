import type { FastifyInstance } from 'fastify';
import type { HealthResponse, SessionStatus } from '@wa-session-sync/shared';
import { SESSION_STATUSES } from '@wa-session-sync/shared';
import type { SessionManager } from '../sessions/manager';

const byStatusSchema = {
  type: 'object',
  properties: Object.fromEntries(SESSION_STATUSES.map((s) => [s, { type: 'integer' }])),
};

/** `GET /health`: no auth; counts only, never session details. */
export function healthRoutes(app: FastifyInstance, options: { manager: SessionManager; version: string; startedAt: number }) {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness and session counts',
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok'] },
              uptime: { type: 'number' },
              sessions: {
                type: 'object',
                properties: {
                  total: { type: 'integer' },
                  connected: { type: 'integer' },
                  by_status: byStatusSchema,
                },
              },
              memory: { type: 'object', additionalProperties: { type: 'number' } },
              version: { type: 'string' },
            },
          },
        },
      },
    },
    async (): Promise<HealthResponse> => {
      const sessions = options.manager.list();
      const byStatus: Partial<Record<SessionStatus, number>> = {};
      for (const s of sessions) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      const memory = process.memoryUsage();
      return {
        status: 'ok',
        uptime: Math.floor((Date.now() - options.startedAt) / 1000),
        sessions: { total: sessions.length, connected: byStatus.connected ?? 0, by_status: byStatus },
        memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
        version: options.version,
      };
    },
  );
}
