import { Client } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RouteLimits } from '../../src/router/router.js';
import { freePort, startInProcessProxy } from './helpers.js';
import { exchange, ok, type RawBackend, type RawRequest, rawBackend, rawClient, statusOf } from './raw.js';

/**
 * HTTP/1.1 conformance of the embedded proxy against crafted backends and clients (raw sockets): for
 * each case, the status the client gets and the bytes the backend sees. Covers the findings of issue 11
 * and RFC 9112 §6.3 (message body length) and §9 (connection management).
 */
describe('proxy HTTP/1.1 conformance', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  const backends: RawBackend[] = [];
  const clients: Client[] = [];
  let n = 0;

  beforeAll(async () => {
    proxy = await startInProcessProxy();
  });
  afterAll(async () => {
    await proxy.cleanup();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.destroy()));
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  /** A new service on its own port in front of a crafted backend. */
  const route = async (
    answer: (r: RawRequest) => void,
    limits?: Partial<RouteLimits>,
  ): Promise<{ port: number; backend: RawBackend; base: string }> => {
    const backend = await rawBackend(answer);
    backends.push(backend);
    const port = await freePort();
    const service = `s${++n}`;
    await proxy.router.ensureRoute({ service, listen: `127.0.0.1:${port}`, drainTimeoutMs: 500, limits });
    await proxy.router.addBackends(service, [{ id: 'a', address: backend.address, revision: 1 }]);
    return { port, backend, base: `http://127.0.0.1:${port}` };
  };
  /** One keep-alive client connection (undici, pipelining 1). */
  const connection = (base: string): Client => {
    const c = new Client(base);
    clients.push(c);
    return c;
  };
  const get = async (
    c: Client,
    path = '/',
    method = 'GET',
    body?: string,
    headers?: Record<string, string>,
  ) => {
    const res = await c.request({ path, method: method as 'GET', body, headers });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  const req = (path = '/', extra = '', method = 'GET') =>
    `${method} ${path} HTTP/1.1\r\nHost: test\r\n${extra}Connection: close\r\n\r\n`;

  describe('malformed or lying backends', () => {
    it.each([
      ['a control character in the reason phrase', 'HTTP/1.1 200 OK\x01\r\nContent-Length: 2\r\n\r\nhi'],
      ['a bare CR in the status line', 'HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nhi'],
      ['status 099', 'HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nhi'],
      [
        'Content-Length beside Transfer-Encoding',
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
      ],
      [
        'two different Content-Lengths',
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi!',
      ],
      ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nhi'],
      ['garbage instead of a response', 'SSH-2.0-OpenSSH_9.6\r\n'],
      ['bare LF line endings (strict llhttp)', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi'],
      [
        'a control character in a header value',
        'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nhi',
      ],
    ])('%s: 502, and the proxy keeps serving', async (_what, bytes) => {
      let first = true;
      const { port, backend } = await route((r) => {
        r.socket.end(first ? bytes : ok('fine'));
        first = false;
      });
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(502);
      expect(text).toMatch(/x-baton-error: upstream-failed/i);
      expect(statusOf(await exchange(port, req()))).toBe(200);
      expect(backend.heads.length).toBeGreaterThanOrEqual(2);
    });

    it('a never-answering backend gets 504 at the configured response timeout, not before', async () => {
      const { port, backend } = await route(() => {}, { responseTimeoutMs: 400 });
      const started = Date.now();
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(504);
      expect(text).toMatch(/x-baton-error: upstream-timeout/i);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(backend.heads).toHaveLength(1); // a timed-out request is not sent again
    });

    it('a backend that stops in the middle of a body is cut after the response timeout', async () => {
      const { port } = await route(
        (r) => r.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello'),
        { responseTimeoutMs: 300 },
      );
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(200);
      expect(text.endsWith('hello')).toBe(true); // the client sees its connection cut short
    });

    it('a refused connection answers 503 after trying every backend', async () => {
      const free = await freePort();
      const port = await freePort();
      await proxy.router.ensureRoute({
        service: 'refused',
        listen: `127.0.0.1:${port}`,
        drainTimeoutMs: 500,
      });
      await proxy.router.addBackends('refused', [{ id: 'x', address: `127.0.0.1:${free}`, revision: 1 }]);
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(503);
      expect(text).toMatch(/ECONNREFUSED/);
      await proxy.router.removeRoute('refused');
    });

    it('1xx interim responses (103) are forwarded before the final one', async () => {
      const { port } = await route((r) =>
        r.socket.end(`HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n${ok('done')}`),
      );
      const text = await exchange(port, req());
      expect(text).toMatch(
        /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK/,
      );
      expect(text.endsWith('done')).toBe(true);
    });

    it('Transfer-Encoding gzip, chunked keeps its coding', async () => {
      const { port } = await route((r) =>
        r.socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
      );
      const text = await exchange(port, req());
      expect(text).toMatch(/\r\ntransfer-encoding: gzip, chunked\r\n/i);
      expect(text).toMatch(/\r\n\r\n3\r\nabc\r\n0\r\n\r\n$/);
    });
  });

  describe('RFC 9112 §6.3: message body length', () => {
    it('1. a HEAD response has no body, whatever its headers say; a late body never reaches the next request', async () => {
      const { base, backend } = await route((r) =>
        r.socket.write(
          r.head.startsWith('HEAD')
            ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHELLO'
            : ok(`get ${r.index}`),
        ),
      );
      const c = connection(base);
      expect(await get(c, '/', 'HEAD')).toMatchObject({ status: 200, text: '' });
      const next = await get(c, '/');
      expect(next).toMatchObject({ status: 200 });
      expect(next.text).toMatch(/^get \d$/);
      // The connection that carried the HEAD is not reused (undici closes it after a HEAD).
      expect(backend.seen.length).toBe(2);
    });

    it.each([204, 304])(
      '1. a %i response has no body; bytes after it are not taken for the next response',
      async (code) => {
        let answered = 0;
        const { base, backend } = await route((r) =>
          r.socket.write(
            answered++ === 0 ? `HTTP/1.1 ${code} No\r\nContent-Length: 3\r\n\r\nBAD` : ok('second'),
          ),
        );
        const c = connection(base);
        expect((await get(c, '/')).status).toBe(code);
        // The connection that carried the stray bytes is closed; the next request gets its own answer.
        expect(await get(c, '/')).toMatchObject({ status: 200, text: 'second' });
        expect(backend.seen).toHaveLength(2);
      },
    );

    it('3. Transfer-Encoding and Content-Length together from a client: 400, nothing reaches the backend', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      const text = await exchange(
        port,
        'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      );
      expect(statusOf(text)).toBe(400);
      expect(backend.heads).toHaveLength(0);
    });

    it('4. a chunked request body reaches the backend whole', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('got')));
      const text = await exchange(
        port,
        'POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      );
      expect(statusOf(text)).toBe(200);
      expect(backend.seen[0]).toMatch(/transfer-encoding: chunked\r\n/i);
      expect(backend.seen[0]!.replace(/\r\n[0-9a-f]+\r\n/g, '')).toContain('abc');
    });

    it('4. a response with a transfer coding but no chunked is read until close', async () => {
      const { port } = await route((r) =>
        r.socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nuntil-close'),
      );
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(200);
      expect(text.replace(/\r\n[0-9a-f]+\r\n/g, '')).toContain('until-close');
    });

    it('5. an invalid request Content-Length: 400, nothing reaches the backend', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      expect(
        statusOf(await exchange(port, 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\na')),
      ).toBe(400);
      expect(backend.heads).toHaveLength(0);
    });

    it('6. a Content-Length body: exactly that many bytes; extra bytes are not a response for anyone', async () => {
      const { base, backend } = await route((r) =>
        r.socket.write(r.index === 0 ? `${ok('abc')}EXTRA` : ok('two')),
      );
      const c = connection(base);
      expect(await get(c, '/')).toMatchObject({ status: 200, text: 'abc' });
      const second = await get(c, '/');
      expect(second.text).not.toContain('EXTRA');
      expect(backend.heads.length).toBeGreaterThanOrEqual(1);
    });

    it('7. a request without Content-Length or Transfer-Encoding has no body', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      expect(statusOf(await exchange(port, 'POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'))).toBe(
        200,
      );
      expect(backend.heads[0]).toMatch(/^POST \/ HTTP\/1\.1\r\n/);
      expect(backend.heads[0]).not.toMatch(/transfer-encoding/i);
    });

    it('8. a response without length is read until the backend closes', async () => {
      const { port } = await route((r) => r.socket.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
      const text = await exchange(port, req());
      expect(text.replace(/\r\n[0-9a-f]+\r\n/g, '')).toContain('all of it');
    });

    it('a body over traffic.maxBodySize gets 413 (by Content-Length, and when chunked)', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')), { maxBodyBytes: 4 });
      const big = await exchange(port, 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345');
      expect(statusOf(big)).toBe(413);
      expect(backend.heads).toHaveLength(0);
      const chunked = await exchange(
        port,
        'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n',
      );
      expect(statusOf(chunked)).toBe(413);
      const small = await exchange(
        port,
        'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\n1234',
      );
      expect(statusOf(small)).toBe(200);
    });
  });

  describe('RFC 9112 §9: connection management', () => {
    it('9.3: an HTTP/1.0 response is never followed by a reused connection', async () => {
      const { base, backend } = await route((r) =>
        r.socket.write(`HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n${r.index}`),
      );
      const c = connection(base);
      for (let i = 0; i < 3; i++) expect(await get(c, '/')).toMatchObject({ status: 200, text: '0' });
      expect(backend.seen).toHaveLength(3);
    });

    it('9.6: a response with Connection: close is the last on its connection', async () => {
      const { base, backend } = await route((r) =>
        r.socket.write(ok(String(r.index), 'Connection: close\r\n')),
      );
      const c = connection(base);
      for (let i = 0; i < 3; i++) expect(await get(c, '/')).toMatchObject({ status: 200, text: '0' });
      expect(backend.seen).toHaveLength(3);
      for (const h of backend.heads) expect(h).not.toMatch(/^connection: close/im); // the client asked for keep-alive
    });

    it('9.3: a keep-alive client reuses its upstream connection', async () => {
      const { base, backend } = await route((r) => r.socket.write(ok(String(r.index))));
      const c = connection(base);
      const texts = [];
      for (let i = 0; i < 3; i++) texts.push((await get(c, '/')).text);
      expect(texts).toEqual(['0', '1', '2']);
      expect(backend.seen).toHaveLength(1);
    });

    it('9.3.2: pipelined requests are answered in order', async () => {
      const { port } = await route((r) => r.socket.write(ok(r.head.split(' ')[1]!)));
      const text = await exchange(
        port,
        'GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
      );
      expect(text.match(/\r\n\r\n\/\d/g)).toEqual(['\r\n\r\n/1', '\r\n\r\n/2', '\r\n\r\n/3']);
    });

    it('9.6: Connection: close from the client closes its connection after the response', async () => {
      const { port } = await route((r) => r.socket.write(ok('bye')));
      const text = await exchange(port, req());
      expect(statusOf(text)).toBe(200);
      expect(text).toMatch(/\r\nconnection: close\r\n/i);
    });

    it('9.3: an HTTP/1.0 client without keep-alive is closed after its response', async () => {
      const { port } = await route((r) => r.socket.write(ok('old')));
      const text = await exchange(port, 'GET / HTTP/1.0\r\nHost: t\r\n\r\n');
      expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(text.endsWith('old')).toBe(true);
    });

    it('7.6.1: hop-by-hop headers and those Connection names are stripped; Host and Content-Length cannot be', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      const text = await exchange(
        port,
        'POST /p HTTP/1.1\r\nHost: t\r\nConnection: close, x-secret, Host, Content-Length\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n' +
          'Proxy-Authorization: Basic eA==\r\nTE: trailers\r\nX-Keep: 2\r\nContent-Length: 4\r\n\r\nbody',
      );
      expect(statusOf(text)).toBe(200);
      const seen = backend.seen[0]!;
      expect(seen).toMatch(/^host: t\r\n/im);
      expect(seen).toMatch(/^content-length: 4\r\n/im);
      expect(seen.endsWith('\r\n\r\nbody')).toBe(true);
      expect(seen).toMatch(/^x-keep: 2\r\n/im);
      expect(seen).toMatch(/^x-forwarded-for: 127\.0\.0\.1\r\n/im);
      for (const gone of ['x-secret', 'keep-alive', 'proxy-authorization', 'te'])
        expect(seen).not.toMatch(new RegExp(`^${gone}:`, 'im'));
    });

    it('a GET on a reused connection the backend closed is sent again; a POST never is', async () => {
      // The backend reads each request, then closes without answering when asked to.
      const { base, backend } = await route((r) => {
        if (r.head.includes('/drop')) r.socket.destroy();
        else r.socket.write(ok('ok'));
      });
      const c = connection(base);
      expect((await get(c, '/')).status).toBe(200);
      const posted = await get(c, '/drop', 'POST');
      expect(posted.status).toBe(502);
      expect(backend.heads.filter((h) => h.startsWith('POST /drop'))).toHaveLength(1);
      expect((await get(c, '/')).status).toBe(200);
      const got = await get(c, '/drop', 'GET');
      expect(got.status).toBe(502);
      // One retry of an idempotent request that reached the backend (the only one here).
      expect(backend.heads.filter((h) => h.startsWith('GET /drop'))).toHaveLength(1);
    });
  });

  describe('requests the edge refuses', () => {
    it('two Host headers: 400, nothing reaches the backend', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      const text = await exchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n');
      expect(statusOf(text)).toBe(400);
      expect(backend.heads).toHaveLength(0);
    });

    it('an absolute-form target naming another host than Host: 400; a matching one goes on in origin form', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      const bad = await exchange(
        port,
        'GET http://evil.test/x HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n',
      );
      expect(statusOf(bad)).toBe(400);
      expect(backend.heads).toHaveLength(0);
      const good = await exchange(
        port,
        'GET http://good.test/x?q=1 HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n',
      );
      expect(statusOf(good)).toBe(200);
      expect(backend.heads[0]).toMatch(/^GET \/x\?q=1 HTTP\/1\.1\r\n/);
    });

    it('more than 100 header fields, or a head over 16 KiB: 431', async () => {
      const { port, backend } = await route((r) => r.socket.end(ok('x')));
      const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
      expect(statusOf(await exchange(port, req('/', many)))).toBe(431);
      expect(statusOf(await exchange(port, req('/', `X-Big: ${'a'.repeat(17 * 1024)}\r\n`)))).toBe(431);
      expect(backend.heads).toHaveLength(0);
    });

    it('a WebSocket upgrade refused with 404 is a plain response; the next bytes never reach the backend', async () => {
      const { port, backend } = await route((r) =>
        r.socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope'),
      );
      const c = await rawClient(port);
      c.write(
        'GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      const text = await c.until(/nope/);
      expect(statusOf(text)).toBe(404);
      c.write(
        'GET /next HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 6.6.6.6\r\nProxy-Authorization: Basic eA==\r\n\r\n',
      );
      await c.closed();
      expect(backend.heads).toHaveLength(1);
      expect(backend.seen.join('')).not.toContain('/next');
    });
  });
});
