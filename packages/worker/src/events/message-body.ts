import { MESSAGE_BODY_MAX_BYTES, type MessagePayload } from '@wa-session-sync/shared';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The longest prefix of `text` within `maxBytes` in UTF-8 that ends on a character boundary: never
 * inside a code point, nor inside a grapheme (an emoji sequence, a letter and its accents) unless
 * that one grapheme alone is over the bound. `text` itself when it fits.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // Every UTF-16 unit takes at most 3 UTF-8 bytes: most bodies are decided without encoding them.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const bytes = Buffer.from(text);
  let end = maxBytes;
  // UTF-8 continuation bytes are 10xxxxxx: back up to the first byte of the code point at the cut.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  const prefix = bytes.toString('utf8', 0, end);
  const split = graphemes.segment(text).containing(prefix.length);
  return split && split.index > 0 && split.index < prefix.length ? prefix.slice(0, split.index) : prefix;
}

/** The payload as delivered: a body over {@link MESSAGE_BODY_MAX_BYTES} is cut and marked `truncated`. */
export function boundedMessage(message: MessagePayload): MessagePayload {
  const body = truncateUtf8(message.body, MESSAGE_BODY_MAX_BYTES);
  return body === message.body ? message : { ...message, body, truncated: true };
}
