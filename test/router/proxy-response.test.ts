import { describe, expect, it } from 'vitest';
import { ResponseReader, type ResponseSink } from '../../src/router/proxy/response.js';

/** Feeds `parts` (strings, split where the test wants) and records what the reader reported. */
function read(parts: string[], noBody = false) {
  const r = new ResponseReader(noBody);
  const body: string[] = [];
  let heads = 0;
  let ended = 0;
  const sink: ResponseSink = {
    head: () => {
      heads++;
    },
    body: (b) => {
      body.push(b.toString('latin1'));
      return true;
    },
    end: () => {
      ended++;
    },
  };
  for (const p of parts) r.feed(Buffer.from(p, 'latin1'), sink);
  return { r, heads, ended, body: body.join(''), sink };
}

describe('proxy raw upstream response reader', () => {
  it('reads a Content-Length response in one piece or byte by byte', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\n\r\nhello';
    for (const parts of [[text], text.split('')]) {
      const { r, heads, ended, body } = read(parts);
      expect([heads, ended, body]).toEqual([1, 1, 'hello']);
      expect([r.status, r.reason, r.reusable, r.keepAliveMs]).toEqual([200, 'OK', true, 4000]);
      expect(r.headers).toEqual(['Content-Type', 'text/plain', 'Content-Length', '5']);
    }
  });

  it('removes chunked coding (extensions and trailers too), split anywhere', () => {
    const text =
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n' +
      '5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer-A: x\r\n\r\n';
    for (const parts of [[text], text.split(''), [text.slice(0, 90), text.slice(90)]]) {
      const { r, ended, body } = read(parts);
      expect([r.status, ended, body, r.reusable]).toEqual([201, 1, 'hello world', true]);
      expect(r.headers).toEqual([]);
    }
  });

  it('skips interim 1xx answers; HEAD, 204 and 304 have no body', () => {
    const a = read([
      'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    ]);
    expect([a.r.status, a.heads, a.body, a.ended]).toEqual([200, 1, 'ok', 1]);
    const head = read(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'], true);
    expect([head.body, head.ended, head.r.reusable]).toEqual(['', 1, true]);
    expect(head.r.headers).toEqual(['Content-Length', '10']);
    const none = read(['HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n']);
    expect([none.ended, none.r.reusable]).toEqual([1, true]);
  });

  it('a body without length runs until the connection closes and is never reused', () => {
    const { r, sink, body } = read(['HTTP/1.0 200 OK\r\n\r\nsome', ' more']);
    expect([body, r.reusable, r.done]).toEqual(['some more', false, false]);
    expect(r.closed(sink)).toBe(true);
    expect(r.done).toBe(true);
  });

  it('Connection: close, HTTP/1.0 without keep-alive and bytes past the end make the connection unusable', () => {
    expect(read(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']).r.reusable).toBe(
      false,
    );
    expect(read(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).r.reusable).toBe(false);
    expect(read(['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n']).r.reusable).toBe(
      true,
    );
    expect(read(['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab']).r.reusable).toBe(false);
  });

  it('rejects malformed answers', () => {
    expect(() => read(['HTTTP/1.1 200 OK\r\n\r\n'])).toThrow(/status line/);
    expect(() => read(['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'])).toThrow(
      /content-length/,
    );
    expect(() => read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'])).toThrow(/chunk size/);
    expect(() => read(['HTTP/1.1 200 OK\r\n folded\r\n\r\n'])).toThrow(/header line/);
    expect(() => read([`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`])).toThrow(/too large/);
    // A cut-short body is not complete when the connection closes.
    const { r, sink } = read(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab']);
    expect(r.closed(sink)).toBe(false);
  });
});
