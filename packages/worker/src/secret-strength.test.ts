import { randomBytes } from 'node:crypto';
import { estimatedBits, guessableSecretRule, MIN_SECRET_BITS } from './secret-strength';

describe('guessable secrets', () => {
  it.each([
    ['change-me-worker-api-key', /placeholder/],
    ['change-me-webhook-secret', /placeholder/],
    ['0123456789abcde', /at least 16 characters/],
    ['x'.repeat(64), /one character repeated/],
    ['passwordpassword', /a shorter string repeated/],
    ['3f9a1c3f9a1c3f9a1c3f9a1c', /a shorter string repeated/],
    ['aaaaaaaaaaaaaaaaaaaaaab1', /too easy to guess/],
    ['test-api-key-7f3a', /too easy to guess/],
  ])('refuses %s, naming the rule and not the secret', (secret, rule) => {
    const message = guessableSecretRule(secret);
    expect(message).toMatch(rule);
    expect(message).not.toContain(secret.slice(0, 6));
  });

  it.each([
    randomBytes(32).toString('hex'),
    randomBytes(16).toString('hex'),
    randomBytes(24).toString('hex'),
    randomBytes(24).toString('base64'),
    'correct-horse-battery-staple',
    'test-key-3f9a1c-worker',
  ])('accepts %s', (secret) => {
    expect(guessableSecretRule(secret)).toBeUndefined();
  });

  it('estimates bits from the characters and how often each appears', () => {
    expect(estimatedBits('abcdefghijklmnop')).toBeCloseTo(64);
    expect(estimatedBits('aaaaaaaaaaaaaaaa')).toBe(0);
    expect(estimatedBits('abababababababab')).toBeCloseTo(16);
    expect(MIN_SECRET_BITS).toBeGreaterThan(estimatedBits('passwordpassword'));
  });
});
