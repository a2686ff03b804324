import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AuthThrottle } from '../auth-throttle';
import { TooManyRequestsError, WorkerError } from '../errors';
import type { Logger } from '../log';
import type { WorkerMetrics } from '../metrics';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

class UnauthorizedError extends WorkerError {
  constructor() {
    super('unauthorized', 'A valid API key (X-API-Key) or metrics token (Authorization: Bearer) is required', 401);
  }
}

/**
 * `GET /metrics`: Prometheus' text format, behind the API key (`X-API-Key` or `api_key`, as `/api/*`)
 * or `Authorization: Bearer <WHATSAPP_METRICS_TOKEN>`, so a scraper needs no key that can stop
 * sessions. Both compared in constant time (hashed first, whatever the lengths); a failed attempt
 * counts in the API key's throttle. The request log carries the path only, never the header.
 */
export function metricsRoutes(
  app: FastifyInstance,
  options: { metrics: WorkerMetrics; apiKey: string; metricsToken: string | undefined; throttle: AuthThrottle; logger: Logger },
) {
  const key = digest(options.apiKey);
  const token = options.metricsToken === undefined ? null : digest(options.metricsToken);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true } }, async (request, reply) => {
    const refusedFor = options.throttle.refusedFor(request.ip);
    if (refusedFor !== undefined) throw new TooManyRequestsError(refusedFor);
    const header = request.headers['x-api-key'];
    const query = (request.query as Record<string, unknown> | undefined)?.api_key;
    const givenKey = typeof header === 'string' ? header : typeof query === 'string' ? query : null;
    const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
    const keyOk = givenKey !== null && timingSafeEqual(digest(givenKey), key);
    const tokenOk = bearer !== null && token !== null && timingSafeEqual(digest(bearer), token);
    if (!keyOk && !tokenOk) {
      if (options.throttle.failed(request.ip)) {
        options.logger.warn('Failed API key attempts: address throttled', { address: request.ip, retryAfterSec: options.throttle.refusedFor(request.ip) });
      }
      throw new UnauthorizedError();
    }
    const { contentType, body } = await options.metrics.text();
    return reply.type(contentType).send(body);
  });
}
