import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import swagger from '@fastify/swagger';
import type { ErrorCode, ErrorResponse } from '@wa-session-sync/shared';
import { AuthThrottle, type AuthThrottleOptions } from './auth-throttle';
import { CapacityExhaustedError, InvalidIdError, LeaseStoreUnavailableError, SessionLeasedElsewhereError, TooManyRequestsError, UnsupportedMediaTypeError, WorkerError } from './errors';
import type { Logger } from './log';
import type { WorkerMetrics } from './metrics';
import { DashboardSignIns } from './routes/dashboard-auth';
import { dashboardRoutes } from './routes/dashboard';
import { docsRoutes } from './routes/docs';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { sessionRoutes } from './routes/sessions';
import type { SessionManager } from './sessions/manager';
import type { SessionHistory } from './sessions/history';
import { exemptStreams } from './streams';

export interface AppOptions {
  apiKey: string;
  manager: SessionManager;
  logger: Logger;
  /** The sessions' history (`GET /api/sessions/:session_id/events`); the route is absent without it. */
  history?: SessionHistory;
  /** How failed authentications are throttled per client address (10 per minute by default). */
  authThrottle?: AuthThrottleOptions;
  /** `GET /metrics` is served when given. */
  metrics?: WorkerMetrics;
  /** `WHATSAPP_WORKER_ID`, shown by `/health`. */
  workerId?: string;
  /** `WHATSAPP_METRICS_TOKEN`: a bearer token `GET /metrics` takes besides the API key. */
  metricsToken?: string;
  /** The server's idle and request timeouts (30 s each; tests make them short). Routes marked `stream` are exempt. */
  timeoutMs?: number;
}

/** The worker's version (its package.json). */
export function packageVersion(): string {
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

/** Bodies larger than this answer 413 (the contract's 1 MiB). */
const BODY_LIMIT = 1024 * 1024;

/** The code of an error Fastify raises itself (body parsing, limits, bad headers), by its HTTP status. */
const FASTIFY_ERROR_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function errorBody(code: ErrorCode, message: string): ErrorResponse {
  return { error: { code, message } };
}

/**
 * Body parsing: JSON as Fastify reads it (prototype poisoning refused), except that an empty body
 * of any content type is no body at all. Routes without a body (reconnect, DELETE) then accept
 * what clients send there, `Content-Type: application/json` with nothing after it included, and a
 * route that needs one answers 400 from its schema. A non-empty body of another type answers 415,
 * `text/plain` included (Fastify reads it by default), and so on GET, whose body Fastify never reads.
 */
function readBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else json(request, body as string, done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    if (body.length === 0) done(null, undefined);
    else done(new UnsupportedMediaTypeError(request.headers['content-type']), undefined);
  });
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    const type = request.headers['content-type'];
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type ?? '')) throw new UnsupportedMediaTypeError(type);
  });
}

/** Errors Fastify raises before routing: a path parameter too long or not decodable is an id the contract refuses. */
function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || error.code === 'FST_ERR_BAD_URL') {
    const invalid = new InvalidIdError('session_id');
    void reply.code(invalid.statusCode).send(errorBody(invalid.code, invalid.message));
    return;
  }
  void reply.code(400).send(errorBody('bad_request', error.message));
}

/** Schema failures that are only about `session_id` / `workspace_id` values: the contract's `invalid_id`. */
function isInvalidId(validation: NonNullable<FastifyError['validation']>): boolean {
  return validation.every((failure) => /^\/(session_id|workspace_id)$/.test(failure.instancePath) && failure.keyword !== 'required');
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type ValidatorFactory = ReturnType<typeof AjvCompiler>;

/**
 * Fastify's own serializer and validator compilers, each route's compiled on its first use
 * instead of at start: every route has a response schema per status (the contract's error shape
 * included), and compiling them all before listening took ~150 ms of every start.
 */
const lazySerializers = ((externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options);
  return (route) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data: unknown) => (serialize ??= compile(route))(data);
  };
}) as SerializerFactory;

const lazyValidators = ((externalSchemas, options) => {
  const compile = AjvCompiler()(externalSchemas, options);
  return (route) => {
    let validate: ReturnType<typeof compile> | undefined;
    // Fastify reads `errors` off the function it called when the data is invalid.
    const lazy = ((data: unknown) => {
      validate ??= compile(route);
      const valid = validate(data);
      (lazy as { errors?: unknown }).errors = (validate as { errors?: unknown }).errors;
      return valid;
    }) as ReturnType<typeof compile>;
    return lazy;
  };
}) as ValidatorFactory;

/** The worker's HTTP API as a Fastify instance (not listening: `main` listens, tests `inject`). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { logger } = options;
  const app = Fastify({
    // Fastify's own logger would write request URLs (and so `api_key`); we log ourselves.
    logger: false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
    connectionTimeout: options.timeoutMs ?? 30_000,
    requestTimeout: options.timeoutMs ?? 30_000,
    keepAliveTimeout: 5_000,
    bodyLimit: BODY_LIMIT,
    // Ids are at most 100 characters, so a longer path parameter is an invalid id: Fastify hands it
    // to frameworkError instead of answering 414 in its own shape.
    routerOptions: { maxParamLength: 100 },
    frameworkErrors: frameworkError,
    return503OnClosing: true,
    schemaController: { compilersFactory: { buildSerializer: lazySerializers, buildValidator: lazyValidators } },
  });
  readBodies(app);
  exemptStreams(app);

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
      if (error instanceof CapacityExhaustedError || error instanceof TooManyRequestsError || error instanceof LeaseStoreUnavailableError) {
        reply.header('retry-after', String(error.retryAfterSec));
      }
      const body = errorBody(error.code, error.message);
      if (error instanceof SessionLeasedElsewhereError) body.error.holder = error.holder;
      return reply.code(error.statusCode).send(body);
    }
    if (error.validation) {
      return reply.code(400).send(errorBody(isInvalidId(error.validation) ? 'invalid_id' : 'invalid_request', error.message));
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) {
      logger.error('Request failed', { method: request.method, path: pathOnly(request.url), error: error.message });
      return reply.code(500).send(errorBody('internal_error', 'Internal error'));
    }
    return reply.code(status).send(errorBody(FASTIFY_ERROR_CODES[status] ?? 'bad_request', error.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('not_found', `No route ${request.method} ${pathOnly(request.url)}`));
  });

  docsRoutes(app);
  healthRoutes(app, { manager: options.manager, version: packageVersion(), startedAt: Date.now(), workerId: options.workerId });
  const throttle = new AuthThrottle(options.authThrottle);
  // The dashboard's sign-in is the API's second way in (a cookie), with the key's failed-attempt throttle.
  const signIns = new DashboardSignIns(options.apiKey);
  await app.register(async (api) => sessionRoutes(api, { manager: options.manager, apiKey: options.apiKey, throttle, logger, signIns, history: options.history }));
  const { metrics } = options;
  if (metrics) metricsRoutes(app, { metrics, apiKey: options.apiKey, metricsToken: options.metricsToken, throttle, logger });
  await app.register(async (dashboard) => dashboardRoutes(dashboard, { manager: options.manager, signIns, throttle, logger }));
  return app;
}
