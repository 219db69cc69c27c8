import type { ServerResponse } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { H2_LIMITS } from '../../src/router/proxy/h2.js';
import { selfSigned } from '../helpers/certs.js';
import { H2_ERROR, h2request, h2session, RawH2 } from './h2-client.js';
import {
  freePort,
  startBackend,
  startInProcessProxy,
  type TestBackend,
  tempDir,
  waitFor,
} from './helpers.js';

type Proxy = Awaited<ReturnType<typeof startInProcessProxy>>;

/** HTTP/1.1 over TLS on its own connection: status, body and the protocol ALPN chose. */
function getH1(port: number, host: string): Promise<{ status: number; body: string; alpn: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        servername: host,
        headers: { host },
        agent: false,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      } as RequestOptions,
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as TLSSocket).alpnProtocol }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP/2 on a TLS listener (in-process proxy)', () => {
  let p: Proxy;
  let certs: { dir: string; remove: () => Promise<void> };
  let port: number;
  const apps: TestBackend[] = [];
  /** Responses a backend holds until the test lets them go (path /hold). */
  const held: ServerResponse[] = [];

  /** A backend answering its name; /hold waits, /echo returns the body, /stream writes chunks. */
  const app = async (name: string) => {
    const b = await startBackend(name, (req, res) => {
      if (req.url === '/hold') {
        held.push(res);
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('x-backend', name);
        // An HTTP/1.1 answer in chunks, with hop-by-hop fields HTTP/2 must not carry.
        res.setHeader('connection', 'keep-alive, x-hop');
        res.setHeader('x-hop', '1');
        res.setHeader('keep-alive', 'timeout=5');
        if (req.url === '/echo') res.end(Buffer.concat(chunks));
        else {
          res.write(name);
          res.end();
        }
      });
    });
    apps.push(b);
    return b;
  };

  beforeAll(async () => {
    p = await startInProcessProxy();
    certs = await tempDir();
    port = await freePort();
    const pair = selfSigned(certs.dir, 'h2', ['h2.test', 'other.test']);
    const listen = `127.0.0.1:${port}`;
    await p.router.ensureRoute({
      service: 'web',
      listen,
      drainTimeoutMs: 5000,
      hosts: ['h2.test'],
      tls: [pair],
    });
    await p.router.ensureRoute({
      service: 'other',
      listen,
      drainTimeoutMs: 5000,
      hosts: ['other.test'],
      tls: [pair],
    });
    await p.router.addBackends('web', [{ id: 'web-1', address: (await app('one')).address, revision: 1 }]);
    await p.router.addBackends('other', [
      { id: 'other-1', address: (await app('other')).address, revision: 1 },
    ]);
  }, 30_000);

  afterAll(async () => {
    for (const r of held.splice(0)) r.destroy();
    await p?.cleanup();
    await certs?.remove();
    await Promise.all(apps.map((a) => a.close()));
  });

  it('negotiates h2 (http/1.1 still offered), routes by :authority, maps fields both ways', async () => {
    const s = await h2session(port, 'h2.test');
    try {
      expect(s.alpnProtocol).toBe('h2');
      const a = await h2request(s, {
        ':path': '/',
        ':authority': 'h2.test',
        cookie: ['a=1', 'b=2'],
        te: 'trailers',
      });
      expect([a.status, a.body, a.headers['x-backend']]).toEqual([200, 'one', 'one']);
      // No connection-specific field reaches an HTTP/2 client (node would refuse to send them anyway).
      for (const f of ['connection', 'keep-alive', 'transfer-encoding', 'x-hop'])
        expect(a.headers[f]).toBeUndefined();
      const seen = apps[0]!.last!;
      expect([seen.host, seen.cookie, seen['x-forwarded-proto'], seen.te]).toEqual([
        'h2.test',
        'a=1; b=2',
        'https',
        undefined,
      ]);
      // Same connection, another service by host; a body goes through (no length given: chunked upstream).
      expect((await h2request(s, { ':path': '/', ':authority': 'other.test' })).body).toBe('other');
      const big = 'x'.repeat(300_000);
      const echo = await h2request(s, { ':method': 'POST', ':path': '/echo', ':authority': 'h2.test' }, big);
      expect(echo.body.length).toBe(big.length);
      expect((await h2request(s, { ':path': '/', ':authority': 'nobody.test' })).status).toBe(404);
    } finally {
      s.close();
    }
    const h1 = await getH1(port, 'h2.test');
    expect([h1.status, h1.body, h1.alpn]).toEqual([200, 'one', 'http/1.1']);
  });

  it('WebSockets over HTTP/1.1 still work on the TLS listener', async () => {
    const b = await app('ws');
    const wss = new WebSocketServer({ server: b.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`ws:${m.toString()}`)));
    await p.router.switchTo('other', ['other-ws'], [{ id: 'other-ws', address: b.address, revision: 2 }]);
    const ws = new WebSocket(`wss://127.0.0.1:${port}/chat`, {
      servername: 'other.test',
      headers: { host: 'other.test' },
      rejectUnauthorized: false,
    } as WebSocket.ClientOptions);
    try {
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const answer = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
      ws.send('hi');
      expect(await answer).toBe('ws:hi');
    } finally {
      ws.terminate();
    }
  });

  it('drain: a long stream finishes on the old instance while new streams of the same connection go to the new one', async () => {
    const two = await app('two');
    const s = await h2session(port, 'h2.test');
    try {
      const before = held.length;
      const long = h2request(s, { ':path': '/hold', ':authority': 'h2.test' });
      await waitFor(() => held.length > before, 'the long stream at the old instance');
      await p.router.switchTo('web', ['web-2'], [{ id: 'web-2', address: two.address, revision: 2 }]);
      const status = await p.router.status('web');
      expect(status?.backends.find((b) => b.id === 'web-1')?.inFlight).toBe(1);
      // New streams on the same connection: the new instance.
      for (let i = 0; i < 3; i++)
        expect((await h2request(s, { ':path': '/', ':authority': 'h2.test' })).body).toBe('two');
      const waiting = p.router.waitDrained('web', ['web-1'], 10_000);
      let drained = false;
      void waiting.then(() => {
        drained = true;
      });
      // The old instance is not drained while its stream is open.
      await h2request(s, { ':path': '/', ':authority': 'h2.test' });
      expect(drained).toBe(false);
      held[before]!.end('long-done');
      expect((await long).body).toBe('long-done');
      const r = await waiting;
      expect([r.drained, r.inFlight]).toEqual([true, 0]);
      await p.router.removeBackends('web', ['web-1']);
      expect(s.closed || s.destroyed).toBe(false);
      expect((await h2request(s, { ':path': '/', ':authority': 'h2.test' })).body).toBe('two');
    } finally {
      s.close();
    }
  });

  it('limits: a stream over the concurrent limit is refused, a window overrun is a flow-control error; others are unaffected', async () => {
    const bystander = await h2session(port, 'h2.test');
    // Settings not acknowledged: nghttp2 refuses the streams past the limit it announced.
    const raw = await RawH2.open(port, 'h2.test', false);
    const before = held.length;
    try {
      const n = H2_LIMITS.maxConcurrentStreams;
      const frames: Buffer[] = [];
      for (let i = 0; i <= n; i++) frames.push(raw.headers(1 + 2 * i, 'GET', '/hold', 'h2.test', true));
      raw.write(Buffer.concat(frames));
      const extra = 1 + 2 * n;
      await waitFor(() => raw.resets.has(extra), 'RST_STREAM for the stream over the limit', 20_000);
      expect(raw.resets.get(extra)).toBe(H2_ERROR.REFUSED_STREAM);
      await waitFor(() => held.length - before === n, `${n} streams at the instance`, 20_000);
      expect(raw.resets.size).toBe(1);
      // Another client, meanwhile, on the same listener.
      expect((await h2request(bystander, { ':path': '/', ':authority': 'h2.test' })).status).toBe(200);
    } finally {
      raw.close();
    }
    // A request body past the stream's window, sent at once: before any WINDOW_UPDATE could come.
    const greedy = await RawH2.open(port, 'h2.test');
    try {
      const chunk = 16_384;
      const over = Math.ceil((H2_LIMITS.initialWindowSize + 1) / chunk);
      const body: Buffer[] = [greedy.headers(1, 'POST', '/hold', 'h2.test', false)];
      for (let i = 0; i < over + 64; i++) body.push(greedy.data(1, chunk));
      greedy.write(Buffer.concat(body));
      await waitFor(
        () =>
          greedy.resets.get(1) === H2_ERROR.FLOW_CONTROL_ERROR ||
          greedy.goaway === H2_ERROR.FLOW_CONTROL_ERROR,
        'FLOW_CONTROL_ERROR for the stream or the connection',
        20_000,
      );
      expect((await h2request(bystander, { ':path': '/', ':authority': 'h2.test' })).status).toBe(200);
    } finally {
      greedy.close();
    }
    // Settings acknowledged and still past the limit: a protocol error, that connection is closed.
    const rude = await RawH2.open(port, 'h2.test');
    try {
      const frames: Buffer[] = [];
      for (let i = 0; i <= H2_LIMITS.maxConcurrentStreams; i++)
        frames.push(rude.headers(1 + 2 * i, 'GET', '/', 'h2.test', true));
      rude.write(Buffer.concat(frames));
      await waitFor(
        () => rude.closed,
        'the connection of a client past the acknowledged limit closed',
        20_000,
      );
      expect((await h2request(bystander, { ':path': '/', ':authority': 'h2.test' })).status).toBe(200);
    } finally {
      rude.close();
    }
    // A header list over the limit: that stream fails, the connection and the others go on.
    try {
      const huge = 'v'.repeat(H2_LIMITS.maxHeaderListSize + 1024);
      await expect(
        h2request(bystander, { ':path': '/', ':authority': 'h2.test', 'x-big': huge }),
      ).rejects.toThrow();
      expect((await h2request(bystander, { ':path': '/', ':authority': 'h2.test' })).status).toBe(200);
    } finally {
      bystander.close();
    }
    const s = await h2session(port, 'other.test');
    expect((await h2request(s, { ':path': '/', ':authority': 'other.test' })).status).toBe(200);
    s.close();
  }, 60_000);
});
