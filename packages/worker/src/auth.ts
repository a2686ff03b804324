import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AuthThrottle } from './auth-throttle';
import { TooManyRequestsError, WorkerError } from './errors';
import type { Logger } from './log';

/**
 * A check of a secret (the API key, the metrics token) in constant time whatever the lengths: both
 * sides are hashed first, so `timingSafeEqual` compares equal lengths and learns nothing of the
 * secret's. The secret itself is not kept, only its SHA-256.
 */
export function secretMatcher(secret: string): (given: string | null | undefined) => boolean {
  const expected = digest(secret);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The API key a request carries: `X-API-Key`, or the `api_key` query parameter of the seed system's scripts. */
export function apiKeyOf(request: FastifyRequest): string | null {
  const header = request.headers['x-api-key'];
  const query = (request.query as Record<string, unknown> | undefined)?.api_key;
  return typeof header === 'string' ? header : typeof query === 'string' ? query : null;
}

/** A request without a valid key (401); `message` says what would have been accepted. */
export class UnauthorizedError extends WorkerError {
  constructor(message: string) {
    super('unauthorized', message, 401);
  }
}

/** Refuses, with `429` and its `Retry-After`, an address the throttle has closed. */
export function refuseThrottled(request: FastifyRequest, throttle: AuthThrottle): void {
  const refusedFor = throttle.refusedFor(request.ip);
  if (refusedFor !== undefined) throw new TooManyRequestsError(refusedFor);
}

/**
 * A failed authentication: counted against the address, logged at `warn` once when that closes it
 * (the address, never what was sent), and answered `401` with `message`.
 */
export function failedAuthentication(request: FastifyRequest, throttle: AuthThrottle, logger: Logger, message: string): never {
  if (throttle.failed(request.ip)) {
    logger.warn('Failed API key attempts: address throttled', { address: request.ip, retryAfterSec: throttle.refusedFor(request.ip) });
  }
  throw new UnauthorizedError(message);
}
