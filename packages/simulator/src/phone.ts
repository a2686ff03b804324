import { SimulatorError } from './errors';

const PHONE_PATTERN = /^\d{5,20}$/;
const WID_PATTERN = /^[\w.:-]+@(c\.us|g\.us|lid|broadcast|newsletter)$/;

/** A phone number as digits only (`6281234567890`); throws INVALID_ARGUMENT otherwise. */
export function parsePhone(value: unknown, field = 'phone'): string {
  if (typeof value !== 'string' || !PHONE_PATTERN.test(value)) {
    throw new SimulatorError('INVALID_ARGUMENT', `${field} must be a phone number of 5 to 20 digits`);
  }
  return value;
}

/** A sender or chat: digits become the user wid `<digits>@c.us`, a wid is kept as it is. */
export function parseWid(value: unknown, field = 'from'): string {
  if (typeof value === 'string' && PHONE_PATTERN.test(value)) return `${value}@c.us`;
  if (typeof value === 'string' && WID_PATTERN.test(value)) return value;
  throw new SimulatorError('INVALID_ARGUMENT', `${field} must be phone digits or a wid such as 6281234567890@c.us`);
}

/** The ref part of a QR string (`ref,staticKey,identityKey,advSecret,platform`), or the ref itself. */
export function refOfQr(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SimulatorError('INVALID_ARGUMENT', 'qr must be the QR string the page shows, or its ref');
  }
  return value.split(',')[0]!;
}

// WhatsApp's linking-code alphabet (Crockford-like base32 without 0, O, I and U, so a code read
// aloud or typed on a phone is not ambiguous); the same string as WAWebAltDeviceLinkingBase32Encode.
const PAIRING_CODE_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ';
const PAIRING_CODE_PATTERN = /^[1-9A-HJ-NP-TV-Z]{8}$/;

/**
 * A new pairing code: 8 characters of WhatsApp's alphabet, as `startAltLinkingFlow` returns it
 * (`ABCDEFGH`; the phone shows it as `ABCD-EFGH`). 5 random bytes = 40 bits = 8 symbols of 5 bits.
 */
export function newPairingCode(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes.subarray(0, 5)) value = (value << 8n) | BigInt(byte);
  let code = '';
  for (let shift = 35n; shift >= 0n; shift -= 5n) code += PAIRING_CODE_ALPHABET[Number((value >> shift) & 31n)];
  return code;
}

/** A code as the phone's user types it: `ABCD-EFGH` or `abcdefgh` become `ABCDEFGH`; throws INVALID_ARGUMENT otherwise. */
export function parsePairingCode(value: unknown): string {
  const code = typeof value === 'string' ? value.replace(/[\s-]/g, '').toUpperCase() : '';
  if (!PAIRING_CODE_PATTERN.test(code)) {
    throw new SimulatorError('INVALID_ARGUMENT', `code must be 8 characters of ${PAIRING_CODE_ALPHABET}, e.g. ABCD-EFGH`);
  }
  return code;
}
