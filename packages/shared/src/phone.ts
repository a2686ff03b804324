/**
 * A phone number as `whatsapp_accounts.phone_number` (varchar(32)) may hold it: digits with an
 * optional leading `+`, 5 to 32 digits, and at most 32 characters in all (so `+` and 32 digits
 * is refused: it would not fit the column). The worker reports digits only (`62811801641`).
 */
export const PHONE_NUMBER_PATTERN = /^(?=.{5,32}$)\+?\d{5,32}$/;

/** The same pattern as a string, for JSON schemas and messages. */
export const PHONE_NUMBER_PATTERN_SOURCE = '^(?=.{5,32}$)\\+?\\d{5,32}$';

export function isValidPhoneNumber(value: unknown): value is string {
  return typeof value === 'string' && PHONE_NUMBER_PATTERN.test(value);
}
