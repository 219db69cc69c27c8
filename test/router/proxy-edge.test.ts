import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startInProcessProxy, type TestBackend } from './helpers.js';
import { type RawClient, rawClient, statusOf } from './raw.js';

const HEAD_TIMEOUT_MS = 1000;
const SLOWLORIS = 40;

/**
 * Edge timeouts of the client-facing listener: a request head that never finishes gets 408 at the head
 * timeout while other clients are served; only inactivity is timed, so a slow but live upload completes
 * however long it takes (the 5 bytes/s for 300 s case runs in the optional slow tier, test/slow/).
 */
describe('proxy edge timeouts', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let backend: TestBackend;
  let port: number;
  const client = new Agent({ connections: 8 });

  beforeAll(async () => {
    proxy = await startInProcessProxy();
    backend = await startBackend('a', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`got ${n}`));
    });
    port = await freePort();
    await proxy.router.ensureRoute({
      service: 'web',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 500,
      limits: { headTimeoutMs: HEAD_TIMEOUT_MS, responseTimeoutMs: 1000 },
    });
    await proxy.router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);
  });
  afterAll(async () => {
    await client.close();
    await proxy.cleanup();
    await backend.close();
  });

  it('slowloris connections get 408 at the head timeout; other clients are served meanwhile', async () => {
    const started = Date.now();
    const lorises: RawClient[] = await Promise.all(Array.from({ length: SLOWLORIS }, () => rawClient(port)));
    const drip = setInterval(() => {
      for (const l of lorises) if (!l.socket.destroyed) l.write('X-A: b\r\n');
    }, 100);
    for (const l of lorises) l.write('GET / HTTP/1.1\r\nHost: t\r\n');
    try {
      // While every slowloris connection is still open, other clients get their answers.
      let served = 0;
      let servedWhileOpen = 0;
      while (served < 200) {
        const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: client });
        expect(await res.body.text()).toBe('got 0');
        served++;
        if (lorises.every((l) => !l.socket.destroyed)) servedWhileOpen++;
      }
      expect(servedWhileOpen).toBeGreaterThan(0);
      const firstClose = Math.min(
        ...(await Promise.all(
          lorises.map(async (l) => {
            await l.closed();
            return Date.now();
          }),
        )),
      );
      const answers = lorises.map((l) => l.received());
      expect(answers.map(statusOf)).toEqual(answers.map(() => 408));
      // Not before the head timeout (the timer is checked every second, so up to a second after it).
      expect(firstClose - started).toBeGreaterThanOrEqual(HEAD_TIMEOUT_MS - 50);
    } finally {
      clearInterval(drip);
    }
  }, 30_000);

  it('a slow upload (5 bytes/s) outlives the head and response timeouts and completes', async () => {
    const c = await rawClient(port);
    const total = 20; // 4 s at 5 bytes/s: four times each timeout
    c.write(`POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`);
    for (let sent = 0; sent < total; sent++) {
      await new Promise((r) => setTimeout(r, 200));
      c.write('x');
    }
    const text = await c.closed();
    expect(statusOf(text)).toBe(200);
    expect(text.endsWith(`got ${total}`)).toBe(true);
  }, 30_000);
});
