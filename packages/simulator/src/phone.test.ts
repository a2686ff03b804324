import { SimulatorError } from './errors';
import { parsePhone, parseWid, refOfQr } from './phone';

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
