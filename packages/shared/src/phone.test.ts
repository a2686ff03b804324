import { isValidPhoneNumber, PHONE_NUMBER_PATTERN, PHONE_NUMBER_PATTERN_SOURCE } from './phone';

describe('isValidPhoneNumber', () => {
  it.each(['62811801641', '+62811801641', '12345', '+12345', '1'.repeat(32), `+${'1'.repeat(31)}`])('accepts %j', (value) => {
    expect(isValidPhoneNumber(value)).toBe(true);
  });

  it.each([
    ['four digits', '1234'],
    ['a plus and four digits', '+1234'],
    ['33 digits', '1'.repeat(33)],
    ['a plus and 32 digits (33 characters: over the column)', `+${'1'.repeat(32)}`],
    ['80 digits', '9'.repeat(80)],
    ['a space', '62 811801641'],
    ['a letter', '6281180164a'],
    ['a plus inside', '62+811801641'],
    ['a trailing newline', '62811801641\n'],
    ['non-ASCII digits', '٦٢٨١١٨٠١٦٤١'],
    ['the empty string', ''],
  ])('refuses %s', (_name, value) => {
    expect(isValidPhoneNumber(value)).toBe(false);
  });

  it.each([null, undefined, 62811801641, {}, ['62811801641']])('refuses the non-string %j', (value) => {
    expect(isValidPhoneNumber(value)).toBe(false);
  });

  it('has its pattern as a string too', () => {
    expect(new RegExp(PHONE_NUMBER_PATTERN_SOURCE).source).toBe(PHONE_NUMBER_PATTERN.source);
  });
});
