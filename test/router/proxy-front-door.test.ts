import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { selfSigned } from '../helpers/certs.js';
import { requireBuilt } from '../helpers/services.js';
import {
  freePort,
  startBackend,
  startInProcessProxy,
  type TestBackend,
  tempDir,
  waitFor,
} from './helpers.js';

type Proxy = Awaited<ReturnType<typeof startInProcessProxy>>;
const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;

/** One plain HTTP request on a new connection: status, location and body. */
function get(
  port: number,
  host: string,
  path = '/',
): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(res.headers.location ? { location: res.headers.location } : {}),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTPS request over a new TLS connection with SNI `host`: status, body and the peer's certificate. */
function getTls(
  port: number,
  host: string,
  path = '/',
): Promise<{ status: number; body: string; cert: PeerCertificate; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host },
        agent: false,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      } as RequestOptions,
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        const alpn = socket.alpnProtocol;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert, alpn }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Speaks plain HTTP to a TLS listener: its handshake fails (a `tlsClientError` for the proxy). */
function plainTextToTls(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: b.test\r\n\r\n'));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
  });
}

describe('front door: host and path routing, TLS, HTTP listener (in-process proxy)', () => {
  let p: Proxy;
  let certDir: { dir: string; remove: () => Promise<void> };
  const apps: Record<string, TestBackend> = {};
  let plain: number;
  let secure: number;
  let http: number;

  beforeAll(async () => {
    for (const n of ['a', 'b', 'api', 'def', 'w']) apps[n] = await startBackend(n);
    p = await startInProcessProxy();
    certDir = await tempDir();
    [plain, secure, http] = [await freePort(), await freePort(), await freePort()];
  }, 30_000);

  afterAll(async () => {
    await p?.cleanup();
    await certDir?.remove();
    await Promise.all(Object.values(apps).map((a) => a.close()));
  });

  const up = async (service: string, extra: Record<string, unknown>, listen: number) => {
    await p.router.ensureRoute({ service, listen: `127.0.0.1:${listen}`, drainTimeoutMs: 1000, ...extra });
    await p.router.addBackends(service, [
      { id: `${service}-1`, address: apps[service]!.address, revision: 1 },
    ]);
  };

  it('routes by host (exact before wildcard, any case, port ignored) and longest path prefix; 404 names nothing', async () => {
    await up('a', { hosts: ['a.test'] }, plain);
    await up('w', { hosts: ['*.a.test'] }, plain);
    await up('api', { hosts: ['a.test'], pathPrefix: '/api' }, plain);
    await up('def', {}, plain);
    expect((await get(plain, 'a.test')).body).toBe('a');
    expect((await get(plain, 'A.Test:8080', '/x')).body).toBe('a');
    expect((await get(plain, 'a.test', '/api')).body).toBe('api');
    expect((await get(plain, 'a.test', '/api/v1?q=1')).body).toBe('api');
    expect((await get(plain, 'a.test', '/apix')).body).toBe('a');
    expect((await get(plain, 'x.a.test')).body).toBe('w');
    expect((await get(plain, 'x.y.a.test')).body).toBe('def');
    expect((await get(plain, 'other.test')).body).toBe('def');
    await p.router.removeRoute('def');
    const miss = await get(plain, 'other.test');
    expect(miss.status).toBe(404);
    expect(miss.body).toBe('Not Found\n');
    // One service gone, the others keep the listener.
    expect((await get(plain, 'a.test', '/api/x')).body).toBe('api');
  });

  it('refuses a duplicate host + prefix, a second default, and TLS on a plain listener, changing nothing', async () => {
    await expect(
      p.router.ensureRoute({
        service: 'dup',
        listen: `127.0.0.1:${plain}`,
        drainTimeoutMs: 1000,
        hosts: ['A.test'],
      }),
    ).rejects.toThrow(/host a\.test with path prefix \/ is already served by service a/);
    await p.router.ensureRoute({ service: 'def', listen: `127.0.0.1:${plain}`, drainTimeoutMs: 1000 });
    await expect(
      p.router.ensureRoute({ service: 'def2', listen: `127.0.0.1:${plain}`, drainTimeoutMs: 1000 }),
    ).rejects.toThrow(/default service.*service def/);
    const c = selfSigned(certDir.dir, 'x', ['x.test']);
    await expect(
      p.router.ensureRoute({
        service: 'x',
        listen: `127.0.0.1:${plain}`,
        drainTimeoutMs: 1000,
        hosts: ['x.test'],
        tls: [c],
      }),
    ).rejects.toThrow(/plain HTTP for service/);
    expect((await p.router.list()).map((r) => r.service).sort()).toEqual(['a', 'api', 'def', 'w']);
    await p.router.removeRoute('def');
  });

  it('terminates TLS: SNI picks the certificate (a wildcard one serves subdomains), ALPN http/1.1; reloads replaced files', async () => {
    const one = selfSigned(certDir.dir, 'one', ['b.test']);
    const wild = selfSigned(certDir.dir, 'wild', ['*.c.test', 'c.test']);
    await up('b', { hosts: ['b.test'], tls: [one] }, secure);
    await p.router.ensureRoute({
      service: 'api',
      listen: `127.0.0.1:${secure}`,
      drainTimeoutMs: 1000,
      hosts: ['b.test'],
      pathPrefix: '/api',
      tls: [one],
    });
    await up('def', { hosts: ['*.c.test'], tls: [wild] }, secure);
    // `api` moved to the TLS listener: the plain one keeps serving a and w.
    expect((await get(plain, 'a.test', '/api/x')).body).toBe('a');
    const b = await getTls(secure, 'b.test');
    expect(apps.b!.last?.['x-forwarded-proto']).toBe('https');
    expect([b.body, b.alpn, b.cert.subject.CN]).toEqual(['b', 'http/1.1', 'b.test']);
    expect((await getTls(secure, 'b.test', '/api/1')).body).toBe('api');
    const c = await getTls(secure, 'x.c.test');
    expect([c.body, c.cert.subject.CN]).toEqual(['def', '*.c.test']);
    expect((await getTls(secure, 'nobody.test')).status).toBe(404);

    const before = b.cert.fingerprint256;
    selfSigned(certDir.dir, 'one', ['b.test', 'www.b.test'], { atomic: true });
    await waitFor(
      async () => (await getTls(secure, 'b.test')).cert.fingerprint256 !== before,
      'the new certificate',
      10_000,
    );
    expect((await getTls(secure, 'b.test')).cert.subjectaltname).toContain('www.b.test');
    // The listener's default certificate (def's, attached last) replaced: SNI clients get the new one too
    // (the proxy skips re-installing the default on each handshake only while it is the one loaded).
    const defaultBefore = c.cert.fingerprint256;
    selfSigned(certDir.dir, 'wild', ['*.c.test', 'c.test', 'www.c.test'], { atomic: true });
    await waitFor(
      async () => (await getTls(secure, 'x.c.test')).cert.fingerprint256 !== defaultBefore,
      'the new default certificate',
      10_000,
    );
    expect((await getTls(secure, 'x.c.test')).cert.subjectaltname).toContain('www.c.test');

    // For /metrics: the listener counts its handshakes (and failed ones); the route names what it serves.
    const tlsListener = async () => (await p.router.status('b'))?.listeners?.find((l) => l.role === 'main');
    const l0 = (await tlsListener())!;
    expect(l0.tls).toBe(true);
    for (let i = 0; i < 3; i++) await getTls(secure, 'b.test');
    await plainTextToTls(secure);
    await waitFor(
      async () => ((await tlsListener())?.handshakeErrors ?? 0) > (l0.handshakeErrors ?? 0),
      'a failed handshake counted',
      10_000,
    );
    const l1 = (await tlsListener())!;
    expect([l1.handshakes! - l0.handshakes!, l1.handshakeErrors! - l0.handshakeErrors!]).toEqual([3, 1]);
    const served = (await p.router.status('b'))?.certificates ?? [];
    expect(served.map((c) => [c.file, c.names])).toEqual([[one.cert, ['b.test', 'www.b.test']]]);
    expect(Date.parse(served[0]!.notAfter)).toBe(
      Date.parse(new X509Certificate(readFileSync(one.cert)).validTo),
    );
  });

  it('the HTTP listener answers ACME challenges and redirects TLS hosts with 308', async () => {
    await p.router.setHttpListen(`127.0.0.1:${http}`);
    expect((await get(http, 'b.test', '/.well-known/acme-challenge/tok_1')).status).toBe(404);
    await p.router.setAcmeChallenge('tok_1', 'tok_1.thumb');
    const ch = await get(http, 'new.test', '/.well-known/acme-challenge/tok_1');
    expect([ch.status, ch.body]).toEqual([200, 'tok_1.thumb']);
    const r = await get(http, 'B.test:80', '/api/x?y=1');
    expect([r.status, r.location]).toEqual([308, `https://b.test:${secure}/api/x?y=1`]);
    expect((await get(http, 'unknown.test')).status).toBe(404);
    await p.router.deleteAcmeChallenge('tok_1');
    expect((await get(http, 'new.test', '/.well-known/acme-challenge/tok_1')).status).toBe(404);
    await expect(p.router.setAcmeChallenge('bad token!', 'x')).rejects.toThrow(/base64url/);
  });
});

describe.skipIf(!requireBuilt(ENTRY))('front door with proxy workers (real processes)', () => {
  it('challenges, TLS and the snapshot reach every worker and survive a proxy restart', async () => {
    const tmp = await tempDir();
    const app = await startBackend('tls-app');
    const dataDir = `${tmp.dir}/data`;
    const router = new ProxyRouter({ dataDir });
    try {
      await ensureProxy(dataDir, { entry: ENTRY, workers: 2 });
      const [listen, http] = [await freePort(), await freePort()];
      const pair = selfSigned(tmp.dir, 'w', ['w.test']);
      await router.ensureRoute({
        service: 'w',
        listen: `127.0.0.1:${listen}`,
        drainTimeoutMs: 1000,
        hosts: ['w.test'],
        tls: [pair],
      });
      await router.addBackends('w', [{ id: 'w1', address: app.address, revision: 1 }]);
      await router.setHttpListen(`127.0.0.1:${http}`);
      await router.setAcmeChallenge('tok-w', 'tok-w.key');
      // New connections spread over both workers: every one answers the same.
      for (let i = 0; i < 12; i++) {
        expect((await get(http, 'w.test', '/.well-known/acme-challenge/tok-w')).body).toBe('tok-w.key');
        expect((await getTls(listen, 'w.test')).body).toBe('tls-app');
      }
      await stopProxy(dataDir);
      await ensureProxy(dataDir, { entry: ENTRY, workers: 2 });
      expect((await get(http, 'w.test', '/.well-known/acme-challenge/tok-w')).body).toBe('tok-w.key');
      expect((await getTls(listen, 'w.test')).body).toBe('tls-app');
      expect((await get(http, 'w.test', '/x')).location).toBe(`https://w.test:${listen}/x`);
    } finally {
      await stopProxy(dataDir).catch(() => {});
      await app.close();
      await tmp.remove();
    }
  }, 60_000);
});
