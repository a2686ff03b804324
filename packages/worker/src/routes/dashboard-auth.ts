import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { secretMatcher } from '../auth';
import { ForbiddenOriginError } from '../errors';

/** The dashboard's session cookie. */
export const COOKIE_NAME = 'wa_dashboard';

/** How long one sign-in lasts, from the moment the key was given (a night shift and some). */
const SIGN_IN_TTL_MS = 12 * 60 * 60 * 1000;

/** Sign-ins kept at most; beyond it the oldest end first (one operator rarely holds more than a few). */
const MAX_SIGN_INS = 1000;


/** What is kept of a sign-in's token: its SHA-256, never the token. */
function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Methods that change nothing: every other one, signed in by cookie, must come from the worker's own origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The worker's own origin as the browser addressed it: `Origin` of a same-origin request equals it. */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ''}`;
}

/**
 * The dashboard's sign-ins, in memory: the API key exchanged for a random token held in an
 * `HttpOnly`, `SameSite=Strict` cookie, so the key itself never stays in the browser. Only the
 * token's SHA-256 is kept, and each sign-in expires; a restart of the worker ends them all (the
 * operator signs in again), which is why nothing is written to disk.
 */
export class DashboardSignIns {
  /** sha256(token) in hex -> expiry (ms since the epoch); a Map keeps insertion order, oldest first. */
  private readonly signIns = new Map<string, number>();
  private readonly isApiKey: (given: string) => boolean;

  constructor(
    apiKey: string,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = SIGN_IN_TTL_MS,
  ) {
    this.isApiKey = secretMatcher(apiKey);
  }

  /** Whether `given` is the API key, compared in constant time whatever its length. */
  keyMatches(given: string): boolean {
    return this.isApiKey(given);
  }

  /** A new sign-in: its token (for the cookie only). */
  create(): string {
    this.forgetExpired();
    while (this.signIns.size >= MAX_SIGN_INS) this.signIns.delete(this.signIns.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    this.signIns.set(tokenId(token), this.now() + this.ttlMs);
    return token;
  }

  /** Whether `token` is a live sign-in. */
  valid(token: string | undefined): token is string {
    if (!token) return false;
    const id = tokenId(token);
    const expiry = this.signIns.get(id);
    if (expiry === undefined) return false;
    if (expiry <= this.now()) {
      this.signIns.delete(id);
      return false;
    }
    return true;
  }

  /** Ends a sign-in (sign-out); nothing when it is not one. */
  end(token: string | undefined): void {
    if (token) this.signIns.delete(tokenId(token));
  }

  /** The token of the request's cookie, live or not. */
  tokenOf(request: FastifyRequest): string | undefined {
    const header = request.headers.cookie;
    return header ? parseCookies(header)[COOKIE_NAME] : undefined;
  }

  /** The request's live sign-in token, or undefined. */
  signedIn(request: FastifyRequest): string | undefined {
    const token = this.tokenOf(request);
    return this.valid(token) ? token : undefined;
  }

  /**
   * The API's second way in (after the key): true when the request carries a live sign-in cookie.
   * A state change so signed in must carry the worker's own `Origin` (a missing one is refused):
   * `SameSite=Strict` lets a page on the same host at another port send the cookie, since a site
   * ignores ports. Throws {@link ForbiddenOriginError} then.
   */
  authenticates(request: FastifyRequest): boolean {
    if (!this.signedIn(request)) return false;
    if (!SAFE_METHODS.has(request.method) && request.headers.origin !== ownOrigin(request)) throw new ForbiddenOriginError();
    return true;
  }

  /** The `Set-Cookie` value that holds `token`; `Secure` when the request came over https. */
  cookie(request: FastifyRequest, token: string): string {
    return serializeCookie(COOKIE_NAME, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: request.protocol === 'https',
      maxAge: Math.floor(this.ttlMs / 1000),
    });
  }

  /** The `Set-Cookie` value that removes the cookie. */
  clearCookie(request: FastifyRequest): string {
    return serializeCookie(COOKIE_NAME, '', { httpOnly: true, sameSite: 'strict', path: '/', secure: request.protocol === 'https', maxAge: 0 });
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [id, expiry] of this.signIns) if (expiry <= now) this.signIns.delete(id);
  }
}
