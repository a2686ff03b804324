import { SessionListReader, type SessionListEnd } from './session-list';

/** Feeds `text` in chunks of `size` bytes; the entries handed on, and how it ended (or the error). */
function read(text: string, size: number): { entries: unknown[]; end?: SessionListEnd; error?: unknown } {
  const entries: unknown[] = [];
  const reader = new SessionListReader((piece) => entries.push(...piece));
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) reader.add(bytes.subarray(i, i + size));
  try {
    return { entries, end: reader.end() };
  } catch (error) {
    return { entries, error };
  }
}

/** What the reader makes of `text` must be what JSON.parse of the whole answer gives. */
function expectLikeJsonParse(text: string): void {
  let expected: { ok: true; value: unknown } | { ok: false };
  try {
    expected = { ok: true, value: JSON.parse(text) };
  } catch {
    expected = { ok: false };
  }
  for (const size of [1, 2, 3, 7, 64, 4096, 1 << 20]) {
    const result = read(text, size);
    if (!expected.ok) {
      expect(result.error).toBeInstanceOf(SyntaxError);
      continue;
    }
    expect(result.error).toBeUndefined();
    const value = result.end!.streamed ? { ...(expected.value as object), sessions: result.entries } : result.end!.body;
    expect(value).toEqual(expected.value);
  }
}

const entry = (i: number) => ({ session_id: `s${i}`, workspace_id: '1', status: 'connected', phone_number: null, reason: 'a "quoted" \\ [x], {y}' });

describe('SessionListReader', () => {
  it('hands on every entry of a large list, piece by piece, in order', () => {
    const sessions = Array.from({ length: 3000 }, (_, i) => entry(i));
    const pieces: number[] = [];
    const reader = new SessionListReader((piece) => pieces.push(piece.length));
    const bytes = Buffer.from(JSON.stringify({ sessions }));
    for (let i = 0; i < bytes.length; i += 65536) reader.add(bytes.subarray(i, i + 65536));
    expect(reader.end()).toEqual({ streamed: true });
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(3000);
    expectLikeJsonParse(JSON.stringify({ sessions }));
  });

  it.each([
    ['an empty list', '{"sessions":[]}'],
    ['whitespace everywhere', ' \n{ "sessions" :\t[ {"session_id":"a"} , 1, "x", null ,[2] ] }\n'],
    ['strings with brackets, commas, quotes and escapes', '{"sessions":[{"a":"],}{[\\"\\\\"},"\\u005d",",",{"b":"\\\\"}]}'],
    ['multi-byte text', '{"sessions":[{"name":"café 🙂"},"日本"]}'],
    ['other members after the list', '{"sessions":[1,2],"total":2,"x":{"y":[3]}}'],
    ['a second sessions member, which wins', '{"sessions":[1,2],"sessions":[3]}'],
    ['a second sessions member that is 0', '{"sessions":[1],"sessions":0}'],
    ['a second sessions member that is 1', '{"sessions":[1],"sessions":1}'],
    ['sessions not first', '{"total":1,"sessions":[1]}'],
    ['no sessions', '{"items":[]}'],
    ['a list at the top', '[{"sessions":[]}]'],
    ['null', 'null'],
  ])('reads %s as JSON.parse does', (_what, text) => {
    expectLikeJsonParse(text);
  });

  it.each([
    ['a missing comma', '{"sessions":[1 2]}'],
    ['an empty entry', '{"sessions":[1,,2]}'],
    ['a leading comma', '{"sessions":[,1]}'],
    ['a trailing comma', '{"sessions":[1,]}'],
    ['an unclosed list', '{"sessions":[1,2'],
    ['an unclosed object', '{"sessions":[1]'],
    ['a mismatched bracket', '{"sessions":[{"a":1]}]}'],
    ['a brace closing the list', '{"sessions":[1}'],
    ['garbage after the answer', '{"sessions":[1]} x'],
    ['a non-JSON space before the list', '{\u00a0"sessions":[1]}'],
    ['an unclosed string', '{"sessions":["a]}'],
    ['a control character in a string', '{"sessions":["a\u0001"]}'],
    ['not JSON at all', '<html>'],
    ['nothing', ''],
  ])('refuses %s, as JSON.parse does', (_what, text) => {
    expectLikeJsonParse(text);
  });

  it('cuts only between entries, whatever `},{` the entries hold in strings or nested values', () => {
    const sessions = Array.from({ length: 2500 }, (_, i) => ({ session_id: `s${i}`, note: '},{"x":1},{', nested: [{ a: i }, { b: [{ c: '},{' }] }] }));
    expectLikeJsonParse(JSON.stringify({ sessions }));
    expectLikeJsonParse(JSON.stringify({ sessions: sessions.map((s, i) => (i % 7 === 0 ? [s] : s)) }));
    expectLikeJsonParse(JSON.stringify({ sessions }, null, 1));
  });

  it('reads an entry larger than a piece', () => {
    expectLikeJsonParse(JSON.stringify({ sessions: [{ big: 'x'.repeat(200_000) }, entry(1), { big: ['y'.repeat(100_000)] }] }));
  });

  it('refuses an empty entry next to a cut between pieces', () => {
    const sessions = Array.from({ length: 2000 }, (_, i) => entry(i));
    const text = JSON.stringify({ sessions });
    expectLikeJsonParse(text.replace(/]}$/, ',]}'));
    expectLikeJsonParse(text.replace('{"session_id":"s1500"', ',{"session_id":"s1500"'));
    expectLikeJsonParse(`{"sessions":[${' '.repeat(40_000)},1]}`);
  });
});
