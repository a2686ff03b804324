import { MESSAGE_BODY_MAX_BYTES } from '@wa-session-sync/shared';
import { boundedMessage, truncateUtf8 } from './message-body';

const bytes = (text: string) => Buffer.byteLength(text);

describe('truncateUtf8', () => {
  it('keeps a text that fits, to the byte', () => {
    expect(truncateUtf8('halo', 4)).toBe('halo');
    expect(truncateUtf8('é'.repeat(5), 10)).toBe('é'.repeat(5));
  });

  it('cuts one-byte text at the bound', () => {
    expect(truncateUtf8('a'.repeat(5000), 4096)).toBe('a'.repeat(4096));
  });

  it('never cuts inside a code point', () => {
    // é is 2 bytes, € 3, 😀 4 (a surrogate pair in JavaScript)
    expect(truncateUtf8('é'.repeat(3000), 4095)).toBe('é'.repeat(2047));
    expect(truncateUtf8('€'.repeat(2000), 4096)).toBe('€'.repeat(1365));
    expect(truncateUtf8('😀'.repeat(2000), 4099)).toBe('😀'.repeat(1024));
    expect(truncateUtf8('ab😀', 5)).toBe('ab');
  });

  it('never cuts inside a grapheme: an emoji sequence or a letter and its accent', () => {
    const family = '👨‍👩‍👧'; // 3 emoji joined by 2 zero-width joiners: 18 bytes
    expect(bytes(family)).toBe(18);
    expect(truncateUtf8(`x${family}`, 12)).toBe('x');
    expect(truncateUtf8(`ab${family}${family}`, 2 + 18 + 17)).toBe(`ab${family}`);
    expect(truncateUtf8('cafe\u0301s', 5)).toBe('caf'); // e + combining acute is one character
  });

  it('cuts a single grapheme longer than the bound between code points rather than return nothing', () => {
    const zalgo = 'a' + '\u0301'.repeat(3000);
    const cut = truncateUtf8(zalgo, 4096);
    expect(cut).toBe('a' + '\u0301'.repeat(2047));
    expect(bytes(cut)).toBe(4095);
  });
});

describe('boundedMessage', () => {
  const message = { id: 'm1', from: '628111@c.us', to: '628222@c.us', type: 'chat', timestamp: 1 };

  it('passes a body of 4 KiB as it is, without a truncated mark', () => {
    const body = 'é'.repeat(MESSAGE_BODY_MAX_BYTES / 2);
    expect(boundedMessage({ ...message, body })).toEqual({ ...message, body });
  });

  it('cuts a longer body to 4 KiB in UTF-8 and marks it truncated', () => {
    const body = 'Ω'.repeat(MESSAGE_BODY_MAX_BYTES); // 2 bytes each
    expect(boundedMessage({ ...message, body })).toEqual({ ...message, body: 'Ω'.repeat(MESSAGE_BODY_MAX_BYTES / 2), truncated: true });
  });
});
