import { Pool } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyRouter } from '../../src/router/proxy/client.js';
import { freePort, startBackend, startInProcessProxy, type TestBackend, waitFor } from './helpers.js';

const S = 'web';
const TOTAL = 2000;
const WORKERS = 16;

/** Answers its name after 0–3 ms, so switches find requests in flight. */
const jittery = (name: string) =>
  startBackend(name, (req, res, b) => {
    req.resume();
    setTimeout(() => res.end(b.name), Math.random() * 3);
  });

describe('proxy under continuous load', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let router: ProxyRouter;
  let pool: Pool;
  let backends: TestBackend[] = [];

  beforeEach(async () => {
    proxy = await startInProcessProxy();
    router = proxy.router;
    const port = await freePort();
    await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 5000 });
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: WORKERS });
  });
  afterEach(async () => {
    await pool.close();
    await proxy.cleanup();
    await Promise.all(backends.map((b) => b.close()));
    backends = [];
  });

  /** Runs `TOTAL` GETs from `WORKERS` loops (every 4th on a connection closed after it); returns failures. */
  const load = (onDone: () => void) => {
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        try {
          const res = await pool.request({ path: `/${i}`, method: 'GET', reset: i % 4 === 0 });
          const text = await res.body.text();
          if (res.statusCode !== 200) failures.push(`#${i}: ${res.statusCode} ${text}`);
        } catch (e) {
          failures.push(`#${i}: ${(e as Error).message}`);
        }
        onDone();
      }
    };
    return { failures, run: Promise.all(Array.from({ length: WORKERS }, worker)) };
  };

  it(`has 0 failures over ${TOTAL} requests during 10 alternating switchTo`, async () => {
    const a = await Promise.all([jittery('a1'), jittery('a2')]);
    const b = await Promise.all([jittery('b1'), jittery('b2')]);
    backends = [...a, ...b];
    const asBackends = (set: TestBackend[], revision: number) =>
      set.map((t) => ({ id: t.name, address: t.address, revision }));
    await router.addBackends(S, asBackends(a, 1));
    let done = 0;
    const { failures, run } = load(() => {
      done++;
    });
    const drains: boolean[] = [];
    for (let s = 0; s < 10; s++) {
      await waitFor(() => done >= (s + 1) * 150, `${(s + 1) * 150} requests done`, 60_000);
      const [next, old] = s % 2 === 0 ? [b, a] : [a, b];
      await router.addBackends(S, asBackends(next, s + 2));
      await router.switchTo(
        S,
        next.map((t) => t.name),
      );
      const oldIds = old.map((t) => t.name);
      drains.push((await router.waitDrained(S, oldIds, 5000)).drained);
      await router.removeBackends(S, oldIds);
      // The old instances close their keep-alive sockets right away, as a stopping app would.
      for (const t of old) t.server.closeIdleConnections();
    }
    await run;
    expect(failures).toEqual([]);
    expect(drains).toEqual(new Array(10).fill(true));
    expect(backends.every((t) => t.hits > 0)).toBe(true);
  });

  it('has 0 failures when backends close idle keep-alive sockets without announcing it', async () => {
    const a = await Promise.all([jittery('a1'), jittery('a2')]);
    backends = a;
    for (const t of a) t.server.keepAliveTimeout = 0; // no Keep-Alive hint, no idle timer
    await router.addBackends(
      S,
      a.map((t) => ({ id: t.name, address: t.address, revision: 1 })),
    );
    let done = 0;
    const { failures, run } = load(() => {
      done++;
      // Every few requests the backends drop whatever sockets are idle at that moment.
      if (done % 5 === 0) for (const t of a) t.server.closeIdleConnections();
    });
    await run;
    expect(failures).toEqual([]);
  });
});
