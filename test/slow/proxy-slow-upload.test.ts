import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startInProcessProxy, type TestBackend } from '../router/helpers.js';
import { rawClient, statusOf } from '../router/raw.js';

/**
 * The optional slow tier (`BATON_SLOW_TESTS=1 npx vitest run test/slow/`, about 5.5 minutes; CI does
 * not run it): an upload at 5 bytes/s for longer than node's default request timeout (300 s) completes
 * through the proxy with its default limits. The CI tier shows the same property in 4 s against 1 s
 * timeouts (test/router/proxy-edge.test.ts).
 */
describe.runIf(process.env.BATON_SLOW_TESTS === '1')('slow tier: a 5 bytes/s upload for 310 s', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let backend: TestBackend;
  let port: number;

  beforeAll(async () => {
    proxy = await startInProcessProxy();
    backend = await startBackend('a', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`got ${n}`));
    });
    // The backend itself must not cut it either.
    backend.server.requestTimeout = 0;
    port = await freePort();
    await proxy.router.ensureRoute({ service: 'web', listen: `127.0.0.1:${port}`, drainTimeoutMs: 500 });
    await proxy.router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);
  });
  afterAll(async () => {
    await proxy.cleanup();
    await backend.close();
  });

  it('completes with 200 and every byte', async () => {
    const total = 5 * 310;
    const c = await rawClient(port);
    c.write(`POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`);
    for (let sent = 0; sent < total; sent += 5) {
      await new Promise((r) => setTimeout(r, 1000));
      c.write('xxxxx');
    }
    const text = await c.closed();
    expect(statusOf(text)).toBe(200);
    expect(text.endsWith(`got ${total}`)).toBe(true);
  }, 400_000);
});
