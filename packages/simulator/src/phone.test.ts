import { SimulatorError } from './errors';
import { newPairingCode, parsePairingCode, parsePhone, parseWid, refOfQr } from './phone';

describe('parsePhone', () => {
  it('accepts digits', () => {
    expect(parsePhone('6281234567890')).toBe('6281234567890');
  });

  it.each(['', '62 812', '+6281234567890', '6281234567890@c.us', '1234', 'x'.repeat(6), 6281234567890])(
    'refuses %p with INVALID_ARGUMENT',
    (value) => {
      expect(() => parsePhone(value)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );
});

describe('parseWid', () => {
  it('turns digits into a user wid and keeps wids as they are', () => {
    expect(parseWid('628111')).toBe('628111@c.us');
    expect(parseWid('628111@c.us')).toBe('628111@c.us');
    expect(parseWid('120363000000000000@g.us')).toBe('120363000000000000@g.us');
  });

  it('refuses what is neither', () => {
    expect(() => parseWid('someone@example.com')).toThrow(SimulatorError);
    expect(() => parseWid(undefined)).toThrow(SimulatorError);
  });
});

describe('refOfQr', () => {
  it('takes the ref out of a full QR string, or keeps a bare ref', () => {
    expect(refOfQr('2@abc,STATIC,IDENTITY,ADV,CHROME')).toBe('2@abc');
    expect(refOfQr('2@abc')).toBe('2@abc');
  });

  it('refuses an empty or missing QR', () => {
    expect(() => refOfQr('  ')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => refOfQr(null)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('pairing codes', () => {
  it('encodes 40 random bits as 8 symbols of WhatsApp\'s alphabet', () => {
    expect(newPairingCode(new Uint8Array([0, 0, 0, 0, 0]))).toBe('11111111');
    expect(newPairingCode(new Uint8Array([255, 255, 255, 255, 255]))).toBe('ZZZZZZZZ');
    // 0x0842108421 = 00001 00001 00001 ... : the second symbol of the alphabet eight times
    expect(newPairingCode(new Uint8Array([0x08, 0x42, 0x10, 0x84, 0x21]))).toBe('22222222');
  });

  it('reads a code as the phone shows it or typed loosely', () => {
    expect(parsePairingCode('ABCD-EFGH')).toBe('ABCDEFGH');
    expect(parsePairingCode('abcd efgh')).toBe('ABCDEFGH');
  });

  it.each(['', 'ABCDEFG', 'ABCDEFGHJ', 'ABCD0FGH', 'ABCDIFGH', 'ABCDOFGH', 'ABCDUFGH', 12345678, null])(
    'refuses %p with INVALID_ARGUMENT',
    (value) => {
      expect(() => parsePairingCode(value)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );
});
