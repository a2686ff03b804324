import type { FastifyInstance } from 'fastify';
import { apiKeyOf, failedAuthentication, refuseThrottled, secretMatcher } from '../auth';
import type { AuthThrottle } from '../auth-throttle';
import type { Logger } from '../log';
import type { WorkerMetrics } from '../metrics';

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
  const isApiKey = secretMatcher(options.apiKey);
  const isToken = options.metricsToken === undefined ? () => false : secretMatcher(options.metricsToken);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true } }, async (request, reply) => {
    refuseThrottled(request, options.throttle);
    const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!isApiKey(apiKeyOf(request)) && !isToken(bearer)) {
      failedAuthentication(request, options.throttle, options.logger, 'A valid API key (X-API-Key) or metrics token (Authorization: Bearer) is required');
    }
    const { contentType, body } = await options.metrics.text();
    return reply.type(contentType).send(body);
  });
}
