import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { HealthResponseSchema, type HealthResponse } from '@wa-session-sync/shared';
import type { SessionManager } from '../sessions/manager';

/** `GET /health`: no auth; counts only, never session details. */
export function healthRoutes(instance: FastifyInstance, options: { manager: SessionManager; version: string; startedAt: number; workerId?: string }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/health',
    { schema: { summary: 'Liveness and session counts', response: { 200: HealthResponseSchema } } },
    async (): Promise<HealthResponse> => {
      const sessions = options.manager.list();
      const byStatus: HealthResponse['sessions']['by_status'] = {};
      for (const s of sessions) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      const memory = process.memoryUsage();
      return {
        status: 'ok',
        uptime: Math.floor((Date.now() - options.startedAt) / 1000),
        sessions: { total: sessions.length, connected: byStatus.connected ?? 0, by_status: byStatus },
        memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
        version: options.version,
        ...(options.workerId === undefined ? {} : { worker_id: options.workerId }),
        capacity: options.manager.usage(),
      };
    },
  );
}
