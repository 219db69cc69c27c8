import { request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyRouter } from '../../src/router/proxy/client.js';
import { freePort, startBackend, startInProcessProxy, type TestBackend, waitFor } from './helpers.js';

const S = 'web';

describe('proxy data path', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let router: ProxyRouter;
  let base: string;
  let port: number;
  let client: Agent;
  const backends: TestBackend[] = [];

  const backend = async (...args: Parameters<typeof startBackend>): Promise<TestBackend> => {
    const b = await startBackend(...args);
    backends.push(b);
    return b;
  };
  const get = async (path = '/', method = 'GET', body?: string) => {
    const res = await request(`${base}${path}`, { method, body, dispatcher: client });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  beforeEach(async () => {
    proxy = await startInProcessProxy();
    router = proxy.router;
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    client = new Agent();
    await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
  });
  afterEach(async () => {
    await client.close();
    await proxy.cleanup();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('reaches the backend with X-Forwarded-* set and hop-by-hop headers stripped', async () => {
    const a = await backend('a');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/x?y=1',
          headers: {
            Host: 'example.test',
            Connection: 'keep-alive, x-secret',
            'x-secret': '1',
            'x-keep': '2',
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(res).toEqual({ status: 200, body: 'a' });
    expect(a.last).toMatchObject({
      host: 'example.test',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'example.test',
      'x-keep': '2',
    });
    expect(a.last?.['x-secret']).toBeUndefined();
  });

  it('answers 503 with a clear body when no backend can take the request', async () => {
    const res = await get();
    expect(res.status).toBe(503);
    expect(res.text).toBe('baton: no healthy backend for service web\n');
    expect(res.headers['x-baton-error']).toBe('no-healthy-backend');
    const a = await backend('a');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    expect((await get()).status).toBe(200);
    await router.setHealthy(S, 'a', false);
    expect((await get()).status).toBe(503);
    await router.setHealthy(S, 'a', true);
    await router.drain(S, ['a']);
    expect((await get()).status).toBe(503);
  });

  it('follows the weights when backends are equally loaded', async () => {
    const a = await backend('a');
    const b = await backend('b');
    await router.addBackends(S, [
      { id: 'a', address: a.address, revision: 1, weight: 3 },
      { id: 'b', address: b.address, revision: 1, weight: 1 },
    ]);
    for (let i = 0; i < 200; i++) expect((await get()).status).toBe(200);
    expect([a.hits, b.hits]).toEqual([150, 50]);
  });

  it('sends new requests to the backend with the fewest in flight', async () => {
    const held: Array<() => void> = [];
    const hold = (_req: unknown, res: { end(s: string): void }, t: TestBackend) =>
      held.push(() => res.end(t.name));
    const a = await backend('a', hold);
    const b = await backend('b', hold);
    await router.addBackends(S, [
      { id: 'a', address: a.address, revision: 1 },
      { id: 'b', address: b.address, revision: 1 },
    ]);
    const pending = Array.from({ length: 6 }, () => get());
    await waitFor(() => held.length === 6, 'six requests held by backends');
    const st = await router.status(S);
    expect(st?.backends.map((x) => x.inFlight)).toEqual([3, 3]);
    expect([a.hits, b.hits]).toEqual([3, 3]);
    for (const f of held.splice(0)) f();
    await Promise.all(pending);
    expect((await router.status(S))?.backends.map((x) => x.inFlight)).toEqual([0, 0]);
  });

  it('prefers the idle backend while the other has requests in flight', async () => {
    const held: Array<() => void> = [];
    const a = await backend('a', (_req, res, t) => held.push(() => res.end(t.name)));
    const b = await backend('b');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const slow = get();
    await waitFor(() => held.length === 1, 'request held by a');
    await router.addBackends(S, [{ id: 'b', address: b.address, revision: 1 }]);
    for (let i = 0; i < 5; i++) expect((await get()).text).toBe('b');
    held[0]!();
    expect((await slow).text).toBe('a');
  });

  it('counts requests, 5xx errors and latency per revision', async () => {
    const a = await backend('a', (req, res) => {
      res.statusCode = req.url === '/fail' ? 500 : 200;
      setTimeout(() => res.end('x'), req.url === '/slow' ? 30 : 0);
    });
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 7 }]);
    for (let i = 0; i < 5; i++) await get('/');
    for (let i = 0; i < 3; i++) await get('/fail');
    await get('/slow');
    const st = await router.status(S);
    const rev = st?.revisions.find((r) => r.revision === 7);
    expect(rev).toMatchObject({ revision: 7, requests: 9, errors: 3 });
    expect(rev?.latency.counts.reduce((x, y) => x + y, 0)).toBe(9);
    const idx25 = rev!.latency.bounds.indexOf(25);
    const slowOnes = rev!.latency.counts.slice(idx25 + 1).reduce((x, y) => x + y, 0);
    expect(slowOnes).toBeGreaterThanOrEqual(1);
    expect(st?.backends[0]?.requests).toBe(9);
    // For /metrics: answers by status class (none, 1xx … 5xx), the latency sum, the listener's connections.
    expect(rev?.classes).toEqual([0, 0, 6, 0, 0, 3]);
    expect(rev?.latency.sumMs).toBeGreaterThanOrEqual(30);
    expect(rev).toMatchObject({ connectErrors: 0, retries: 0 });
    const main = st?.listeners?.find((l) => l.role === 'main');
    expect(main).toMatchObject({ address: `127.0.0.1:${port}` });
    expect(main?.accepted).toBeGreaterThanOrEqual(1);
    expect(main?.open).toBeLessThanOrEqual(main!.accepted);
  });

  it('retries a refused connection on another backend for any method and marks it unhealthy', async () => {
    const a = await backend('a');
    const b = await backend('b');
    await router.addBackends(S, [
      { id: 'a', address: a.address, revision: 1 },
      { id: 'b', address: b.address, revision: 1 },
    ]);
    await a.close();
    const got = await get('/', 'GET');
    expect(got).toMatchObject({ status: 200, text: 'b' });
    expect((await router.status(S))?.backends.find((x) => x.id === 'a')?.healthy).toBe(false);
    expect((await router.status(S))?.revisions[0]?.errors).toBe(1);
    // Back in rotation but still dead: POSTs with a body are retried too (nothing was sent).
    await router.setHealthy(S, 'a', true);
    for (let i = 0; i < 3; i++)
      expect(await get('/', 'POST', 'hello')).toMatchObject({ status: 200, text: 'b' });
    const st = await router.status(S);
    expect(st?.backends.find((x) => x.id === 'a')?.healthy).toBe(false);
    expect(st?.revisions[0]?.errors).toBe(2);
    expect(st?.revisions[0]).toMatchObject({ connectErrors: 2, retries: 2 });
    expect(st?.revisions[0]?.classes).toEqual([2, 0, 4, 0, 0, 0]);
    expect(b.hits).toBe(4);
  });

  it('retries a GET the backend dropped once, never a POST whose body was sent', async () => {
    const drop = (req: {
      resume(): void;
      on(e: string, f: () => void): void;
      socket: { destroy(): void };
    }) => {
      req.resume();
      req.on('end', () => req.socket.destroy());
    };
    const a = await backend('a', drop);
    const b = await backend('b', drop);
    await router.addBackends(S, [
      { id: 'a', address: a.address, revision: 1 },
      { id: 'b', address: b.address, revision: 1 },
    ]);
    const got = await get('/', 'GET');
    expect(got.status).toBe(502);
    expect(got.text).toMatch(/^baton: upstream failed for service web/);
    expect(a.hits + b.hits).toBe(2); // tried once more, on the other backend
    const posted = await get('/', 'POST', 'payload');
    expect(posted.status).toBe(502);
    expect(a.hits + b.hits).toBe(3); // not retried
    // A GET dropped by one backend succeeds on the other.
    const c = await backend('c');
    await router.switchTo(S, ['a']);
    await router.addBackends(S, [{ id: 'c', address: c.address, revision: 2 }]);
    let ok = 0;
    for (let i = 0; i < 4; i++) if ((await get()).status === 200) ok++;
    expect(ok).toBe(4);
  });
  it('passes chunked, unframed and empty bodies through; a body cut short cuts the client connection', async () => {
    const a = await backend('a', (req, res) => {
      req.resume();
      if (req.url === '/chunked') {
        res.write('one,');
        setImmediate(() => res.end('two'));
      } else if (req.url === '/empty') {
        res.writeHead(204, { 'x-kind': 'empty' }).end();
      } else if (req.url === '/unframed') {
        // HTTP/1.0-style: no length, the end of the connection ends the body.
        res.socket!.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        setImmediate(() => res.socket!.destroy());
      } else if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': '5' }).end();
      } else res.end('plain');
    });
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const chunked = await get('/chunked');
    expect([chunked.status, chunked.text]).toEqual([200, 'one,two']);
    const empty = await get('/empty');
    expect([empty.status, empty.text, empty.headers['x-kind']]).toEqual([204, '', 'empty']);
    const head = await get('/', 'HEAD');
    expect([head.status, head.text, head.headers['content-length']]).toEqual([200, '', '5']);
    expect((await get('/unframed')).text).toBe('until the end');
    await expect(get('/cut')).rejects.toThrow();
    expect((await get('/')).text).toBe('plain');
    const st = await router.status(S);
    expect(st?.revisions[0]).toMatchObject({ requests: 6, errors: 1 });
  });
});
