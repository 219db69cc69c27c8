import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { upgradeProxy } from '../../src/router/proxy/handoff/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { requireBuilt } from '../helpers/services.js';
import { proxyTrees } from './handoff-traffic.js';
import { freePort, startBackend, type TestBackend, tempDir, waitFor } from './helpers.js';

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
const WORKER = new URL('../../dist/router/proxy/worker.js', import.meta.url).pathname;

/** One GET on a new connection: status and body, or the error's message. */
function fetchOnce(port: number, path = '/'): Promise<string> {
  return new Promise((resolve) => {
    const req = get(`http://127.0.0.1:${port}${path}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
  });
}

/**
 * A proxy handoff in the middle of a deploy. A request held (`hold` mode, as a replace deploy holds
 * traffic) in a proxy that is handed over stays in the old proxy, which accepts nothing new and only
 * drains: the admin changes that end the hold go to the new proxy. The new proxy relays them to the old
 * one while it drains, so the held request goes to the instance the deploy switched to — not a 503 when
 * the old proxy's drain ends. The deploy's drain of the old instance waits for the requests the old proxy
 * still has on it, as it waits for the new one's: otherwise the instance would be stopped under them. And
 * a stop during the old proxy's drain stays a stop.
 */
describe.runIf(requireBuilt(ENTRY, WORKER))('a proxy handoff during a deploy (real processes)', () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of undo.splice(0).reverse()) await f().catch(() => {});
  });

  /**
   * A data dir with a proxy (`workers`) and the route `web` on a free port to `backend` (id `a`); its
   * proxy trees are noted as they appear (`note`) and every one is stopped by pid at the end.
   */
  const proxyWith = async (workers: number, backend: TestBackend) => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    const seen = new Set<number>();
    const note = (): void => {
      for (const t of proxyTrees(tmp.dir)) for (const p of [t.pid, ...t.workers]) seen.add(p);
    };
    undo.push(async () => {
      note();
      await stopProxy(tmp.dir).catch(() => false);
      note();
      for (const p of seen) if (isAlive(p)) process.kill(p, 'SIGKILL');
    });
    const old = await ensureProxy(tmp.dir, { entry: ENTRY, workers });
    note();
    const router = new ProxyRouter({ dataDir: tmp.dir });
    undo.push(() => router.close());
    const port = await freePort();
    await router.ensureRoute({ service: 'web', listen: `127.0.0.1:${port}`, drainTimeoutMs: 20_000 });
    await router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);
    return { dir: tmp.dir, note, old, router, port };
  };

  it.each([2, 0])(
    'with %i workers: a request held in the old proxy is released by the new one, to the new instance',
    async (workers) => {
      const a = await startBackend('a');
      const b = await startBackend('b');
      undo.push(a.close, b.close);
      const { dir, note, old, router, port } = await proxyWith(workers, a);
      expect(await fetchOnce(port)).toBe('200 a');

      // The deploy holds traffic, a request waits in the old proxy, then the proxy is handed over.
      await router.setMode('web', { kind: 'hold', maxMs: 60_000 });
      const heldInOld = fetchOnce(port);
      await waitFor(async () => ((await router.status('web'))?.held ?? 0) >= 1, 'the request held', 10_000);
      await upgradeProxy(dir, { entry: ENTRY }, () => {});
      note();
      const now = await router.health();
      expect(now.pid).not.toBe(old.pid);
      // One more request, held by whichever proxy accepts it: a proxy with workers goes on accepting for
      // 2 s after the commit (its probation), one without stops at once.
      const heldInNew = fetchOnce(port);
      if (workers === 0)
        await waitFor(
          async () => ((await router.status('web'))?.held ?? 0) >= 1,
          'held in the new one',
          10_000,
        );

      // The deploy switches to the new instance and serves again: both held requests reach it.
      await router.switchTo('web', ['b'], [{ id: 'b', address: b.address, revision: 2 }]);
      await router.setMode('web', { kind: 'serve' });
      expect(await heldInOld).toBe('200 b');
      expect(await heldInNew).toBe('200 b');
      expect(a.hits).toBe(1);
      // With nothing left open, the old proxy ends its drain long before the 20 s drain timeout.
      await waitFor(() => !isAlive(old.pid), 'the old proxy to exit', 15_000);
    },
    60_000,
  );
  it('the drain of an instance waits for a request the old proxy still carries to it', async () => {
    // The instance answers `/slow` only when the test says so.
    let release: (() => void) | undefined;
    const a = await startBackend('a', (req, res) => {
      req.resume();
      if (req.url !== '/slow') return void res.end('a');
      release = () => res.end('a slow');
    });
    const b = await startBackend('b');
    undo.push(a.close, b.close);
    const { dir, note, router, port } = await proxyWith(2, a);
    const slow = fetchOnce(port, '/slow');
    await waitFor(() => release !== undefined, 'the slow request at the instance', 10_000);
    await upgradeProxy(dir, { entry: ENTRY }, () => {});
    note();

    await router.switchTo('web', ['b'], [{ id: 'b', address: b.address, revision: 2 }]);
    let answered = false;
    const drain = router.waitDrained('web', ['a'], 20_000).finally(() => {
      answered = true;
    });
    // Still waiting for the old proxy's request (without it, the wait returned at once, drained).
    await new Promise((r) => setTimeout(r, 1000));
    expect(answered).toBe(false);
    release!();
    expect(await drain).toMatchObject({ drained: true, inFlight: 0 });
    expect(await slow).toBe('200 a slow');
    expect(await fetchOnce(port)).toBe('200 b');
  }, 60_000);

  it('the new proxy stopped (SIGTERM) while the old one drains: the old one finishes and starts no other', async () => {
    let release: (() => void) | undefined;
    const a = await startBackend('a', (req, res) => {
      req.resume();
      release = () => res.end('a slow');
    });
    undo.push(a.close);
    const { dir, note, old, router, port } = await proxyWith(2, a);
    // A request the old proxy carries keeps it draining.
    const slow = fetchOnce(port, '/slow');
    await waitFor(() => release !== undefined, 'the slow request at the instance', 10_000);
    await upgradeProxy(dir, { entry: ENTRY }, () => {});
    note();
    const successor = (await router.health()).pid;

    expect(await stopProxy(dir)).toBe(true);
    release!();
    expect(await slow).toBe('200 a slow');
    // The old proxy exits once drained, and no proxy of this data dir is left.
    await waitFor(() => !isAlive(old.pid), 'the old proxy to exit', 15_000);
    expect(isAlive(successor)).toBe(false);
    expect(proxyTrees(dir)).toEqual([]);
  }, 60_000);
});
