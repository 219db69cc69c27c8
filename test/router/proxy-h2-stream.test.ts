import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { constants } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../helpers/certs.js';
import { h2request, h2session } from './h2-client.js';
import {
  freePort,
  startBackend,
  startInProcessProxy,
  type TestBackend,
  tempDir,
  waitFor,
} from './helpers.js';

// HTTP/2 requests without a body skip node's compatibility objects (src/router/proxy/h2-stream.ts): what
// that path does to a response is checked here against what HTTP/2 and the HTTP/1.1 path require.

const BIG = Buffer.alloc(4 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4096) BIG.write(`block ${i}`, i);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('HTTP/2 requests without compatibility objects (in-process proxy)', () => {
  let p: Awaited<ReturnType<typeof startInProcessProxy>>;
  let certs: { dir: string; remove: () => Promise<void> };
  let port: number;
  let app: TestBackend;
  /** Responses of /slow the test holds open; each gets 'closed' when the proxy drops it. */
  const slow: Array<{ res: ServerResponse; closed: Promise<void> }> = [];

  beforeAll(async () => {
    p = await startInProcessProxy();
    certs = await tempDir();
    port = await freePort();
    app = await startBackend('app', (req, res) => {
      req.resume();
      switch (req.url) {
        case '/cookies':
          res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
          res.end('two');
          return;
        case '/empty':
          res.writeHead(204, { 'x-kind': 'empty' });
          res.end();
          return;
        case '/same':
          res.writeHead(304, { etag: '"v1"' });
          res.end();
          return;
        case '/big':
          res.writeHead(200, { 'content-length': BIG.length });
          res.end(BIG);
          return;
        case '/slow':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first ');
          slow.push({ res, closed: new Promise((r) => res.once('close', () => r())) });
          return;
        default:
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5, 'x-kind': 'page' });
          res.end(req.method === 'HEAD' ? undefined : 'hello');
      }
    });
    const pair = selfSigned(certs.dir, 'lean', ['lean.test']);
    await p.router.ensureRoute({
      service: 'lean',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 5000,
      hosts: ['lean.test'],
      tls: [pair],
    });
    await p.router.addBackends('lean', [{ id: 'lean-1', address: app.address, revision: 1 }]);
  }, 30_000);

  afterAll(async () => {
    for (const s of slow.splice(0)) s.res.destroy();
    await p?.cleanup();
    await certs?.remove();
    await app?.close();
  });

  const get = (path: string, method = 'GET') => ({
    ':method': method,
    ':path': path,
    ':authority': 'lean.test',
  });

  it('HEAD, 204 and 304 end with their head; repeated Set-Cookie fields stay apart; each request is counted', async () => {
    const s = await h2session(port, 'lean.test');
    try {
      const before = (await p.router.status('lean'))!.revisions[0]?.requests ?? 0;
      const head = await h2request(s, get('/', 'HEAD'));
      expect([head.status, head.headers['content-length'], head.headers['x-kind'], head.body]).toEqual([
        200,
        '5',
        'page',
        '',
      ]);
      const empty = await h2request(s, get('/empty'));
      expect([empty.status, empty.headers['x-kind'], empty.body]).toEqual([204, 'empty', '']);
      const same = await h2request(s, get('/same'));
      expect([same.status, same.headers.etag, same.body]).toEqual([304, '"v1"', '']);
      const cookies = await h2request(s, get('/cookies'));
      expect([cookies.body, cookies.headers['set-cookie']]).toEqual(['two', ['a=1; Path=/', 'b=2; Path=/']]);
      expect((await h2request(s, get('/'))).body).toBe('hello');
      const after = (await p.router.status('lean'))!;
      expect(after.revisions[0]!.requests - before).toBe(5);
      expect(after.backends[0]!.inFlight).toBe(0);
    } finally {
      s.close();
    }
  });

  it('a 4 MiB answer arrives whole through HTTP/2 flow control (the stream pushes back on the instance)', async () => {
    const s = await h2session(port, 'lean.test');
    try {
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = s.request(get('/big'));
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
      });
      expect([body.length, sha(body)]).toEqual([BIG.length, sha(BIG)]);
    } finally {
      s.close();
    }
  });

  it('a stream the client resets mid-answer ends its upstream request; the connection and the proxy go on', async () => {
    const s = await h2session(port, 'lean.test');
    try {
      const n = slow.length;
      const req = s.request(get('/slow'));
      await new Promise<void>((resolve) => req.once('data', () => resolve()));
      req.close(constants.NGHTTP2_CANCEL);
      // The instance sees its request closed: nothing is left in flight on it.
      let closed = false;
      void slow[n]!.closed.then(() => {
        closed = true;
      });
      await waitFor(() => closed, 'the instance to see its request closed after the client reset the stream');
      await waitFor(
        async () => (await p.router.status('lean'))!.backends[0]!.inFlight === 0,
        'nothing in flight',
      );
      expect((await h2request(s, get('/'))).body).toBe('hello');
    } finally {
      s.close();
    }
  });

  it("an instance that is gone gets the proxy's own 503 on the stream, as text", async () => {
    const gone = await startBackend('gone');
    const address = gone.address;
    await gone.close();
    await p.router.ensureRoute({
      service: 'gone',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 5000,
      hosts: ['gone.test'],
      tls: [selfSigned(certs.dir, 'gone', ['gone.test'])],
    });
    await p.router.addBackends('gone', [{ id: 'gone-1', address, revision: 1 }]);
    const s = await h2session(port, 'gone.test');
    try {
      const a = await h2request(s, { ':path': '/', ':authority': 'gone.test' });
      expect([a.status, a.headers['x-baton-error'], a.headers['content-type']]).toEqual([
        503,
        'upstream-unavailable',
        'text/plain; charset=utf-8',
      ]);
      expect(a.body).toMatch(/^baton: upstream unavailable for service gone/);
      const h = await h2request(s, { ':method': 'HEAD', ':path': '/', ':authority': 'gone.test' });
      expect([h.status, h.body]).toEqual([503, '']);
    } finally {
      s.close();
      await p.router.removeRoute('gone');
    }
  });
});
