/**
 * Whether a secret (the API key, the webhook secret) is too easy to guess. Hand-written rather than
 * zxcvbn: its dictionaries are ~800 KB that every start would load, and the keys we expect are
 * random (`openssl rand -hex 32`), so a few rules and an entropy estimate are enough to refuse the
 * keys people type by hand.
 */

/** Shortest secret accepted. */
export const MIN_SECRET_LENGTH = 16;

/**
 * Fewest bits a secret's estimate may have. The estimate (length × the entropy of its own
 * characters' frequencies) undercounts short random strings: 16 random hex characters (64 real
 * bits) estimate ~50 and are refused, 16 random base64 characters estimate ~62 and pass, 32 hex
 * ~115. Typed keys land far lower: `passwordpassword` 44, `test-api-key-7f3a` 59.
 */
export const MIN_SECRET_BITS = 60;

/** The placeholder keys of `.env.example`: refused, so that no worker runs with a published key. */
const PLACEHOLDERS = new Set(['change-me-worker-api-key', 'change-me-webhook-secret']);

/** Length × the Shannon entropy of the secret's own character frequencies, in bits. */
export function estimatedBits(secret: string): number {
  const chars = [...secret];
  const counts = new Map<string, number>();
  for (const char of chars) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perChar = 0;
  for (const count of counts.values()) {
    const p = count / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}

/** The shortest string the secret is a repetition of (`passwordpassword` -> `password`). */
function repeatedUnit(secret: string): string | undefined {
  for (let size = 1; size <= secret.length / 2; size++) {
    if (secret.length % size === 0 && secret.slice(0, size).repeat(secret.length / size) === secret) return secret.slice(0, size);
  }
  return undefined;
}

/**
 * The rule a secret breaks, as words that complete "<VARIABLE>: "; undefined when it is
 * acceptable. Never includes the secret or any part of it.
 */
export function guessableSecretRule(secret: string): string | undefined {
  const advice = '(e.g. openssl rand -hex 32)';
  if (PLACEHOLDERS.has(secret)) return `is the placeholder from .env.example: set a secret of your own ${advice}`;
  if (secret.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters ${advice}`;
  const unit = repeatedUnit(secret);
  if (unit?.length === 1) return `is one character repeated: set a random secret ${advice}`;
  if (unit) return `is a shorter string repeated: set a random secret ${advice}`;
  if (estimatedBits(secret) < MIN_SECRET_BITS) return `is too easy to guess (under ${MIN_SECRET_BITS} bits estimated): set a random secret ${advice}`;
  return undefined;
}
