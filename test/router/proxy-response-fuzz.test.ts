import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseReader, type ResponseSink } from '../../src/router/proxy/response.js';

/** What a response is made of; `frame` says how its body is delimited. */
interface Spec {
  interim: number[];
  status: number;
  headers: Array<[string, string]>;
  body: string;
  frame: 'length' | 'chunked' | 'close';
  chunks: number[];
  http10: boolean;
  close: boolean;
}

const token = fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/);
const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
const spec: fc.Arbitrary<Spec> = fc.record({
  interim: fc.array(fc.constantFrom(100, 102, 103), { maxLength: 2 }),
  status: fc.constantFrom(200, 201, 202, 301, 404, 500, 503),
  headers: fc.array(fc.tuple(token, value), { maxLength: 6 }),
  body: fc.string({ maxLength: 300 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  frame: fc.constantFrom('length', 'chunked', 'close'),
  chunks: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
  http10: fc.boolean(),
  close: fc.boolean(),
});

/** The bytes a server would send for `s`. */
function render(s: Spec): string {
  let out = '';
  for (const code of s.interim) out += `HTTP/1.1 ${code} Interim\r\nX-Interim: 1\r\n\r\n`;
  out += `HTTP/1.${s.http10 ? 0 : 1} ${s.status} Reason Phrase\r\n`;
  for (const [k, v] of s.headers) out += `${k}: ${v}\r\n`;
  if (s.close) out += 'Connection: close\r\n';
  if (s.frame === 'length') out += `Content-Length: ${s.body.length}\r\n\r\n${s.body}`;
  else if (s.frame === 'chunked') {
    out += 'Transfer-Encoding: chunked\r\n\r\n';
    let at = 0;
    for (const n of [...s.chunks, Number.POSITIVE_INFINITY]) {
      if (at >= s.body.length) break;
      const part = s.body.slice(at, at + n);
      at += part.length;
      out += `${part.length.toString(16)};ext=1\r\n${part}\r\n`;
    }
    out += '0\r\nX-Trailer: t\r\n\r\n';
  } else out += `\r\n${s.body}`;
  return out;
}

/** Splits `text` at the given cut points (sorted, deduplicated, inside the text). */
function split(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let from = 0;
  for (const c of at) {
    parts.push(text.slice(from, c));
    from = c;
  }
  parts.push(text.slice(from));
  return parts.filter((p) => p.length > 0);
}

function feed(parts: string[]) {
  const r = new ResponseReader(false);
  let heads = 0;
  let ended = 0;
  const body: string[] = [];
  const sink: ResponseSink = {
    head: () => void heads++,
    body: (b) => {
      body.push(b.toString('latin1'));
      return true;
    },
    end: () => void ended++,
  };
  for (const p of parts) {
    if (r.done) break;
    r.feed(Buffer.from(p, 'latin1'), sink);
  }
  if (!r.done) r.closed(sink);
  return { r, heads, ended, body: body.join('') };
}

describe('proxy response reader, property-based', () => {
  it('reads any well-formed response split anywhere: status, end-to-end headers, body, reuse', () => {
    fc.assert(
      fc.property(spec, fc.array(fc.nat(), { maxLength: 12 }), (s, cuts) => {
        const { r, heads, ended, body } = feed(split(render(s), cuts));
        expect(heads).toBe(1);
        expect(ended).toBe(1);
        expect(r.done).toBe(true);
        expect(r.status).toBe(s.status);
        expect(body).toBe(s.body);
        // X- headers pass through in order; framing and hop-by-hop ones never do.
        expect(r.headers.filter((_, i) => i % 2 === 0 && r.headers[i]!.startsWith('X-'))).toEqual(
          s.headers.map(([k]) => k),
        );
        const names = r.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        expect(names).not.toContain('transfer-encoding');
        expect(names).not.toContain('connection');
        expect(r.reusable).toBe(s.frame !== 'close' && !s.close && !s.http10);
      }),
      { numRuns: 500 },
    );
  });

  it('never loops, never reports a body before its head, and fails only with an Error on any bytes', () => {
    const bytes = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a).toString('latin1'));
    // Valid responses with random bytes flipped, and plain noise after a plausible status line.
    const mutated = fc
      .tuple(spec, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }))
      .map(([s, flips]) => {
        const text = render(s).split('');
        for (const [at, b] of flips) if (text.length > 0) text[at % text.length] = String.fromCharCode(b);
        return text.join('');
      });
    const noise = bytes.map((b) => `HTTP/1.1 200 OK\r\n${b}`);
    fc.assert(
      fc.property(fc.oneof(mutated, noise, bytes), fc.array(fc.nat(), { maxLength: 8 }), (text, cuts) => {
        const r = new ResponseReader(false);
        let headSeen = false;
        const sink: ResponseSink = {
          head: () => {
            expect(headSeen).toBe(false);
            headSeen = true;
          },
          body: () => {
            expect(headSeen).toBe(true);
            return true;
          },
          end: () => expect(headSeen).toBe(true),
        };
        try {
          for (const p of split(text, cuts)) {
            if (r.done) break;
            r.feed(Buffer.from(p, 'latin1'), sink);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
