/**
 * A small HTTP/1.1 response reader for the proxy's raw upstream path (requests without a body): status
 * line and headers, then the body framed by Content-Length, chunked transfer coding, or the end of the
 * connection. Interim 1xx responses are skipped. It hands the body on as it arrives (chunked coding
 * removed: the client side re-frames it) and says whether the connection can be reused.
 */

/** What the reader reports to. `body` returns false to ask the caller to stop reading for a while. */
export interface ResponseSink {
  head(r: ResponseReader): void;
  body(data: Buffer): boolean;
  end(): void;
}

const MAX_HEAD = 64 * 1024;
const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CRLF = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

/** Hop-by-hop response headers (RFC 9110 §7.6.1), not passed to the client. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export class ResponseReader {
  status = 0;
  reason = '';
  /** End-to-end headers as a flat `[name, value, …]` list. */
  headers: string[] = [];
  /** The connection can carry another request once the body is read. */
  reusable = true;
  /** `Keep-Alive: timeout=N` as N − 1 s, in ms. */
  keepAliveMs: number | undefined;
  /** Bytes of the response seen so far (0: nothing arrived). */
  received = 0;
  private state = HEAD;
  private pending: Buffer | undefined;
  private remaining = 0;
  private line = '';

  constructor(private readonly noBody: boolean) {}

  get done(): boolean {
    return this.state === DONE;
  }

  get untilClose(): boolean {
    return this.state === UNTIL_CLOSE;
  }

  /** Reads `chunk`; throws on a malformed response. Bytes past the end make the connection unusable. */
  feed(chunk: Buffer, sink: ResponseSink): void {
    this.received += chunk.length;
    let data = chunk;
    let at = 0;
    while (at < data.length && this.state !== DONE) {
      switch (this.state) {
        case HEAD: {
          if (this.pending !== undefined) {
            data = Buffer.concat([this.pending, data.subarray(at)]);
            at = 0;
            this.pending = undefined;
          }
          const end = data.indexOf('\r\n\r\n', at, 'latin1');
          if (end < 0) {
            if (data.length - at > MAX_HEAD) throw new Error('response head too large');
            this.pending = data.subarray(at);
            return;
          }
          const interim = this.parseHead(data.toString('latin1', at, end));
          at = end + 4;
          if (interim) continue;
          sink.head(this);
          break;
        }
        case LENGTH: {
          const n = Math.min(this.remaining, data.length - at);
          const part = data.subarray(at, at + n);
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = DONE;
          sink.body(part);
          break;
        }
        case UNTIL_CLOSE:
          sink.body(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
        case CHUNK_DATA: {
          const n = Math.min(this.remaining, data.length - at);
          const part = data.subarray(at, at + n);
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CHUNK_CRLF;
          sink.body(part);
          break;
        }
        default:
          at = this.chunkLine(data, at);
      }
    }
    if (at < data.length) this.reusable = false;
    if (this.state === DONE) sink.end();
  }

  /** Size lines, the CRLF after chunk data, trailers: read line by line. */
  private chunkLine(data: Buffer, at: number): number {
    const nl = data.indexOf(10, at);
    if (nl < 0) {
      this.line += data.toString('latin1', at);
      if (this.line.length > 4096) throw new Error('chunk line too long');
      return data.length;
    }
    let line = this.line + data.toString('latin1', at, nl);
    this.line = '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (this.state === CHUNK_CRLF) {
      if (line !== '') throw new Error('bad chunk end');
      this.state = CHUNK_SIZE;
    } else if (this.state === CHUNK_SIZE) {
      const semi = line.indexOf(';');
      const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new Error('bad chunk size');
      this.remaining = Number.parseInt(hex, 16);
      this.state = this.remaining === 0 ? TRAILERS : CHUNK_DATA;
    } else if (line === '') this.state = DONE; // TRAILERS: dropped, the end is an empty line
    return nl + 1;
  }

  /**
   * Parses a head in one pass over the string (no split, no regular expression for the common headers);
   * true when it was an interim (1xx) response to skip.
   */
  private parseHead(text: string): boolean {
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    const minor = text.charCodeAt(7) - 48;
    if (
      eol < 12 ||
      !text.startsWith('HTTP/1.') ||
      (minor !== 0 && minor !== 1) ||
      text.charCodeAt(8) !== 32 ||
      !isDigit(text, 9) ||
      !isDigit(text, 10) ||
      !isDigit(text, 11) ||
      (eol > 12 && text.charCodeAt(12) !== 32)
    ) {
      throw new Error('bad status line');
    }
    const status =
      (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + text.charCodeAt(11) - 48;
    if (status === 101) throw new Error('unexpected 101 Switching Protocols');
    if (status < 200) return true;
    this.status = status;
    this.reason = eol > 13 ? text.slice(13, eol) : '';
    let keepAlive = minor === 1;
    let length = -1;
    let chunked = false;
    let listed: string[] | undefined;
    const out = this.headers;
    for (let at = eol + 2; at < text.length; ) {
      let end = text.indexOf('\r\n', at);
      if (end < 0) end = text.length;
      const colon = text.indexOf(':', at);
      const first = text.charCodeAt(at);
      if (colon <= at || colon > end || first === 32 || first === 9) throw new Error('bad header line');
      const name = text.slice(at, colon);
      const value = text.slice(colon + 1, end).trim();
      at = end + 2;
      // Only names of these lengths can be framing or hop-by-hop headers: lower-case just those.
      const n = name.length;
      if (n === 2 || n === 7 || n === 10 || (n >= 14 && n <= 19)) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          const v = Number(value);
          if (value === '' || !isDigits(value) || (length >= 0 && v !== length))
            throw new Error('bad content-length');
          length = v;
        } else if (lower === 'transfer-encoding') {
          chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
          if (!chunked) keepAlive = false;
          continue;
        } else if (lower === 'connection') {
          for (const t of value.split(',')) {
            const token = t.trim().toLowerCase();
            if (token === 'close') keepAlive = false;
            else if (token === 'keep-alive') keepAlive ||= minor === 0;
            else if (token !== '') {
              listed ??= [];
              listed.push(token);
            }
          }
          continue;
        } else if (lower === 'keep-alive') {
          const hint = /timeout=(\d+)/.exec(value);
          if (hint) this.keepAliveMs = Number(hint[1]) * 1000 - 1000;
          continue;
        } else if (HOP_BY_HOP.has(lower)) continue;
      }
      out.push(name, value);
    }
    // Rare: names listed by Connection, or a Content-Length beside chunked coding, are dropped.
    if (listed !== undefined || (chunked && length >= 0)) {
      const kept: string[] = [];
      for (let i = 0; i < out.length; i += 2) {
        const lower = out[i]!.toLowerCase();
        if (listed?.includes(lower) || (chunked && lower === 'content-length')) continue;
        kept.push(out[i]!, out[i + 1]!);
      }
      this.headers = kept;
    }
    this.reusable = keepAlive;
    if (this.noBody || status === 204 || status === 304) this.state = DONE;
    else if (chunked) this.state = CHUNK_SIZE;
    else if (length >= 0) {
      this.remaining = length;
      this.state = length === 0 ? DONE : LENGTH;
    } else {
      this.state = UNTIL_CLOSE;
      this.reusable = false;
    }
    return false;
  }

  /** The connection ended: a body read until the close is complete; anything else was cut short. */
  closed(sink: ResponseSink): boolean {
    if (this.state !== UNTIL_CLOSE) return false;
    this.state = DONE;
    sink.end();
    return true;
  }
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isDigit(s, i)) return false;
  return true;
}
