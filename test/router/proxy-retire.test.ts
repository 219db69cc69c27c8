import type { ClientHttp2Session } from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../helpers/certs.js';
import { h2request, h2session } from './h2-client.js';
import { freePort, startBackend, startInProcessProxy, type TestBackend, tempDir } from './helpers.js';

type Proxy = Awaited<ReturnType<typeof startInProcessProxy>>;

/**
 * Retiring a proxy (the old side of a handoff) with a TLS door that speaks HTTP/2: sessions get GOAWAY,
 * and what is still open when the grace ends is cut — an HTTP/2 listener has no closeAllConnections(),
 * and a retire that threw there left old workers unanswered until the primary killed them (their final
 * counters lost).
 */
describe('retiring a proxy with an HTTP/2 TLS door (in-process proxy)', () => {
  let p: Proxy;
  let certs: Awaited<ReturnType<typeof tempDir>>;
  let app: TestBackend;
  let port = 0;

  beforeAll(async () => {
    p = await startInProcessProxy();
    certs = await tempDir();
    app = await startBackend('a');
    port = await freePort();
    const pair = selfSigned(certs.dir, 'r', ['r.test']);
    await p.router.ensureRoute({
      service: 'web',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 1000,
      hosts: ['r.test'],
      tls: [pair],
    });
    await p.router.addBackends('web', [{ id: 'a', address: app.address, revision: 1 }]);
  }, 30_000);

  afterAll(async () => {
    await p?.cleanup();
    await app?.close();
    await certs?.remove();
  });

  it('HTTP/2 sessions get GOAWAY, an idle HTTP/1.1 TLS connection is cut at the grace, and retire resolves', async () => {
    const session: ClientHttp2Session = await h2session(port, 'r.test');
    expect((await h2request(session, { ':path': '/', ':authority': 'r.test' })).body).toBe('a');
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    // An HTTP/1.1 connection that sends nothing: only the cut at the end of the grace closes it.
    const idle: TLSSocket = await new Promise((resolve, reject) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'r.test',
        ALPNProtocols: ['http/1.1'],
        rejectUnauthorized: false,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    idle.on('error', () => {});
    await expect(p.server.retire(300)).resolves.toBeUndefined();
    await goaway;
    await idleClosed;
    session.destroy();
  });
});
