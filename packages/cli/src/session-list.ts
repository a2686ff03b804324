/**
 * Reads the worker's `GET /api/sessions` answer, `{"sessions":[...]}`, as its bytes arrive: the
 * list is cut between entries into pieces of ~32 KB, and each piece is handed on, parsed by
 * JSON.parse, before the next bytes come. The answer is never held whole.
 *
 * Why not read it whole and JSON.parse it once: at 100,000 sessions the answer is ~15 MB, held
 * twice (its bytes, then its text) next to the parsed entries, and both copies lived until a full
 * garbage collection, which a run rarely reaches: measured, the CLI's peak RSS went from ~187 to
 * ~164 MB with this reader (pieces die young), and the entries were parsed while the rest of the
 * answer was still on its way instead of after it. No library does only this: the streaming JSON
 * parsers tokenize every character in JavaScript, many times slower than JSON.parse.
 *
 * What the reader decides itself is only where the list begins and ends and where an entry ends
 * (commas and brackets outside strings); every byte is still checked by JSON.parse, so an answer
 * is refused exactly when `JSON.parse` of the whole answer would refuse it. An answer that does
 * not begin with `{"sessions":[` (whitespace aside) is read whole and parsed once, as before.
 */

/** How a list answer ended. */
export type SessionListEnd =
  /** Every entry was handed to `onEntries`; nothing else in the answer changes the list. */
  | { streamed: true }
  /** The answer was read whole (or names `sessions` again, which wins, as with JSON.parse): its parsed value. */
  | { streamed: false; body: unknown };

/** Pieces stay under V8's 128 KB limit for young objects, so each dies in a cheap scavenge. */
const PIECE_BYTES = 32 * 1024;
/** Where the list must begin for the answer to be read piece by piece. */
const LIST_START = /^[ \t\n\r]*\{[ \t\n\r]*"sessions"[ \t\n\r]*:[ \t\n\r]*$/;
/** Bytes after which an answer whose list has not begun is read whole. */
const MAX_HEAD = 256;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
/** Between two of the worker's entries. */
const ENTRY_BOUNDARY = Buffer.from('},{');

export class SessionListReader {
  private mode: 'head' | 'list' | 'tail' | 'whole' = 'head';
  /**
   * Bytes not handed on yet, as they came: the head, the list from the start of an entry, the
   * tail, or the whole answer.
   */
  private chunks: Buffer[] = [];
  private length = 0;
  /** How far the list bytes have been scanned byte by byte, and the scanner's state there. */
  private scanned = 0;
  private inString = false;
  private escaped = false;
  private depth = 0;
  /** The last comma between two entries found by the scan, -1 for none. */
  private lastComma = -1;
  /** How many bytes must be kept before the next look for a boundary (doubles while none is found). */
  private nextLook = PIECE_BYTES;
  private pieces = 0;
  private error: SyntaxError | null = null;

  /** `onEntries` gets the entries of each piece, in order. */
  constructor(private readonly onEntries: (entries: unknown[]) => void) {}

  add(chunk: Buffer): void {
    if (this.error) return;
    try {
      this.keep(chunk);
      if (this.mode === 'head') this.readHead();
      if (this.mode === 'list' && this.length >= this.nextLook) this.readList(false);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      this.error = error;
    }
  }

  /** At the end of the answer; throws a `SyntaxError` when the answer is not JSON. */
  end(): SessionListEnd {
    if (this.error) throw this.error;
    if (this.mode === 'list') this.readList(true);
    const rest = this.take(this.length).toString('utf8');
    if (this.mode === 'head' || this.mode === 'whole') return { streamed: false, body: JSON.parse(rest) };
    // The rest of the answer, checked as JSON.parse would check it after the list: a stand-in
    // for the list, then the rest. Another `sessions` member there replaces the list (the last
    // one wins); two stand-ins tell a replacement apart from the stand-in itself.
    const body = JSON.parse(`{"sessions":0${rest}`) as { sessions: unknown };
    const replaced = body.sessions !== 0 || (JSON.parse(`{"sessions":1${rest}`) as { sessions: unknown }).sessions !== 1;
    return replaced ? { streamed: false, body } : { streamed: true };
  }

  private keep(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The bytes kept, as one buffer (still kept). */
  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The first `count` bytes kept, as one buffer; the rest stays kept. */
  private take(count: number): Buffer {
    const all = this.joined();
    const rest = all.subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return all.subarray(0, count);
  }

  private readHead(): void {
    const bytes = this.joined();
    const open = bytes.indexOf(OPEN_BRACKET);
    if (open === -1) {
      if (this.length > MAX_HEAD) this.mode = 'whole';
      return;
    }
    // Not the worker's usual answer: read whole, parsed once at the end.
    if (!LIST_START.test(bytes.subarray(0, open).toString('latin1'))) this.mode = 'whole';
    else {
      this.mode = 'list';
      this.take(open + 1);
    }
  }

  /**
   * Hands on the entries kept so far, up to the last boundary between two of them; at the end of
   * the answer (`last`), up to the end of the list.
   *
   * Between pieces, the worker's entries are objects written without spaces, so the last `},{`
   * is tried first: if what comes before it parses, it was the boundary between two entries
   * (the kept bytes begin at an entry, so a `},{` inside a string or a nested value leaves the
   * piece unbalanced, which JSON.parse refuses). Otherwise, and for the end of the list, the
   * bytes are scanned one by one for commas and brackets outside strings.
   */
  private readList(last: boolean): void {
    const bytes = this.joined();
    if (!last && this.scanned === 0) {
      const boundary = bytes.lastIndexOf(ENTRY_BOUNDARY);
      if (boundary > 0 && this.hand(bytes.subarray(0, boundary + 1), false, true)) {
        this.take(boundary + 2);
        this.nextLook = PIECE_BYTES;
        return;
      }
    }
    let { inString, escaped, depth } = this;
    let end = -1;
    let i = this.scanned;
    for (; i < bytes.length; i++) {
      const byte = bytes[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) inString = false;
      } else if (byte === QUOTE) inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (depth > 0) depth--;
        else if (byte === CLOSE_BRACKET) {
          end = i;
          break;
        } else throw new SyntaxError('unexpected } in the sessions list');
      } else if (byte === COMMA && depth === 0) this.lastComma = i;
    }
    Object.assign(this, { inString, escaped, depth, scanned: i });
    if (end !== -1) {
      this.hand(this.take(end), true, false);
      this.take(1);
      this.mode = 'tail';
    } else if (last) {
      throw new SyntaxError('the sessions list is not closed');
    } else if (this.lastComma >= PIECE_BYTES) {
      this.hand(this.take(this.lastComma), false, false);
      this.take(1);
      // The kept bytes begin at an entry again.
      Object.assign(this, { inString: false, escaped: false, depth: 0, scanned: 0, lastComma: -1, nextLook: PIECE_BYTES });
    } else {
      // One entry larger than a piece: look again once twice as many bytes are kept.
      this.nextLook = this.length * 2;
    }
  }

  /**
   * Parses one piece of the list (the entries between two cuts) and hands its entries on; with
   * `tentative`, a piece that does not parse is left as it was (`false`).
   */
  private hand(piece: Buffer, last: boolean, tentative: boolean): boolean {
    let entries: unknown[];
    try {
      entries = JSON.parse(`[${piece.toString('utf8')}]`) as unknown[];
    } catch (error) {
      if (tentative) return false;
      throw error;
    }
    // A piece next to a cut must hold an entry: `[1,,2]` or `[1,]` are not JSON. Only a list
    // that was never cut may be empty.
    if (entries.length === 0 && (!last || this.pieces > 0)) throw new SyntaxError('an empty entry in the sessions list');
    this.pieces++;
    if (entries.length > 0) this.onEntries(entries);
    return true;
  }
}
