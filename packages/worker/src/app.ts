import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import { WorkerError } from './errors';
import type { Logger } from './log';
import { docsRoutes } from './routes/docs';
import { healthRoutes } from './routes/health';
import { sessionRoutes } from './routes/sessions';
import type { SessionManager } from './sessions/manager';

export interface AppOptions {
  apiKey: string;
  manager: SessionManager;
  logger: Logger;
}

function packageVersion(): string {
  try {
    const file = path.join(__dirname, '..', 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The URL path only: the query may carry `api_key`, which never reaches a log. */
function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The worker's HTTP API as a Fastify instance (not listening: `main` listens, tests `inject`). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { logger } = options;
  const app = Fastify({
    // Fastify's own logger would write request URLs (and so `api_key`); we log ourselves.
    logger: false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'wa-worker', description: 'WhatsApp Web sessions, kept alive and reported truthfully', version: packageVersion() },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key' },
        },
      },
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    logger.debug('HTTP request', {
      method: request.method,
      path: pathOnly(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof WorkerError) {
      return reply.code(error.statusCode).send({ error: { code: error.code, message: error.message } });
    }
    if (error.validation) {
      return reply.code(400).send({ error: { code: 'invalid_request', message: error.message } });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      logger.error('Request failed', { method: request.method, path: pathOnly(request.url), error: error.message });
    }
    return reply.code(status).send({
      error: { code: status === 500 ? 'internal_error' : (error.code ?? 'bad_request').toLowerCase(), message: status === 500 ? 'Internal error' : error.message },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${pathOnly(request.url)}` } });
  });

  docsRoutes(app);
  healthRoutes(app, { manager: options.manager, version: packageVersion(), startedAt: Date.now() });
  await app.register(async (api) => sessionRoutes(api, { manager: options.manager, apiKey: options.apiKey }));
  return app;
}
