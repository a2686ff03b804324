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
