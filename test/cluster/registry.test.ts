import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Registration, Registry } from '../../src/cluster/registry.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const reg = (instance: string, over: Partial<Registration> = {}): Registration => ({
  cluster: 'lon',
  service: 'web',
  protocol: 'http',
  instance,
  address: '10.0.0.1',
  port: 8080,
  priority: 1,
  annotations: { 'prometheus.io/scrape': 'true' },
  revision: 3,
  ...over,
});

/** The next set the watch yields that satisfies `pred`, failing after `timeoutMs`. */
async function nextSet(
  it: AsyncIterator<Registration[]>,
  pred: (set: Registration[]) => boolean,
  timeoutMs = 5000,
): Promise<Registration[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`no matching set within ${timeoutMs} ms`)), deadline - Date.now());
    });
    const r = await Promise.race([it.next(), timeout]).finally(() => clearTimeout(t));
    if (r.done) throw new Error('watch ended');
    if (pred(r.value)) return r.value;
  }
}

const names = (set: Registration[]) => set.map((r) => r.instance);

describe.skipIf(!requireNats())('Registry on a real nats-server', () => {
  let server: NatsServer;
  const conns: NatsConnection[] = [];
  const conn = async () => {
    const nc = await connect({ servers: server.url });
    conns.push(nc);
    return nc;
  };
  let n = 0;
  const bucket = () => `services-${++n}`;

  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close()));
    await server?.stop();
  });

  it('a watcher on another connection sees a registration as soon as it is written, and its delete', async () => {
    const b = bucket();
    const agent = await Registry.open(await conn(), { bucket: b, ttlMs: 60_000 });
    await agent.register(reg('a1'));
    const router = await Registry.open(await conn(), { bucket: b });
    const w = await router.watch({ cluster: 'lon', service: 'web' });
    const it = w[Symbol.asyncIterator]();
    try {
      expect(await nextSet(it, () => true)).toEqual([reg('a1')]);
      // Pushed by the server as it is written (how fast: bench/cluster-converge.mjs, a benchmark's claim).
      await agent.register(reg('a2', { address: '10.0.0.2', priority: 0 }));
      expect(names(await nextSet(it, (s) => s.length === 2))).toEqual(['a2', 'a1']);
      await agent.deregister(reg('a1'));
      expect(names(await nextSet(it, (s) => s.length === 1))).toEqual(['a2']);
    } finally {
      w.stop();
    }
  });

  it('yields only the service asked for', async () => {
    const r = await Registry.open(await conn(), { bucket: bucket() });
    await r.register(reg('web-1'));
    await r.register(reg('api-1', { service: 'api' }));
    await r.register(reg('web-par', { cluster: 'par' }));
    await r.register(reg('web-metrics', { protocol: 'prometheus', port: 9090 }));
    const all = await r.watch({ cluster: 'lon', service: 'web' });
    const http = await r.watch({ cluster: 'lon', service: 'web', protocol: 'http' });
    try {
      expect(names(await nextSet(all[Symbol.asyncIterator](), () => true))).toEqual(['web-1', 'web-metrics']);
      expect(names(await nextSet(http[Symbol.asyncIterator](), () => true))).toEqual(['web-1']);
    } finally {
      all.stop();
      http.stop();
    }
  });

  it('keeps a refreshed entry past the TTL; once refreshing stops it expires and the watcher drops it', async () => {
    const b = bucket();
    const ttlMs = 2000;
    const agent = await Registry.open(await conn(), { bucket: b, ttlMs });
    const w = await (await Registry.open(await conn(), { bucket: b })).watch({
      cluster: 'lon',
      service: 'web',
    });
    const it = w[Symbol.asyncIterator]();
    try {
      const started = Date.now();
      const refresher = await agent.keepAlive(reg('a1'), { everyMs: 400 });
      await nextSet(it, (s) => s.length === 1);
      // Still there after more than one TTL: the refresher rewrote it (each rewrite reaches the watch).
      let refreshes = 0;
      await waitFor(async () => {
        await nextSet(it, () => true, ttlMs);
        refreshes++;
        return Date.now() - started > ttlMs * 1.5;
      });
      expect(refreshes).toBeGreaterThanOrEqual(3);
      expect(names(w.current())).toEqual(['a1']);
      expect(refresher.lastError).toBeUndefined();

      await refresher.stop();
      const stopped = Date.now();
      expect(await nextSet(it, (s) => s.length === 0, ttlMs * 4)).toEqual([]);
      // Not before the last write could have aged out (it was at most one refresh interval earlier).
      expect(Date.now() - stopped).toBeGreaterThanOrEqual(ttlMs - 400 - 100);
    } finally {
      w.stop();
    }
  });

  it('stop with deregister removes the entry at once', async () => {
    const r = await Registry.open(await conn(), { bucket: bucket(), ttlMs: 60_000 });
    const w = await r.watch({ cluster: 'lon', service: 'web' });
    const it = w[Symbol.asyncIterator]();
    try {
      const refresher = await r.keepAlive(reg('a1'));
      await nextSet(it, (s) => s.length === 1);
      await refresher.stop({ deregister: true });
      expect(await nextSet(it, (s) => s.length === 0, 2000)).toEqual([]);
    } finally {
      w.stop();
    }
  });

  it('refuses keys that are not tokens and a TTL under 1 s', async () => {
    const nc = await conn();
    const r = await Registry.open(nc, { bucket: bucket() });
    await expect(r.register(reg('a.b'))).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(r.watch({ cluster: 'lon', service: 'w*' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(Registry.open(nc, { bucket: bucket(), ttlMs: 100 })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
  });
});
