import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { runBatch } from '../../src/router/haproxy/socket.js';
import type { RevisionSplit } from '../../src/router/router.js';
import { type HaproxyInstance, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { waitFor } from '../helpers/wait.js';
import { freePort, send, startBackend, type TestBackend, tempDir } from './helpers.js';

const S = 'web';
const OPTS = 'check inter 200ms';

describe.skipIf(!requireHaproxy())('haproxy router against real haproxy', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let client: Agent;
  let A: TestBackend;
  let B: TestBackend;

  beforeAll(async () => {
    client = new Agent({ keepAliveTimeout: 1000, connections: 32 });
    A = await startBackend('A');
    B = await startBackend('B', (req, res, b) => {
      const slow = req.url === '/slow';
      req.resume();
      setTimeout(() => res.end(b.name), slow ? 2000 : 0);
    });
  });
  afterAll(async () => {
    await client.close();
    await A.close();
    await B.close();
  });
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function setup(
    n = 1,
    backends?: Parameters<typeof startHaproxy>[0],
  ): Promise<{ hs: HaproxyInstance[]; r: HaproxyRouter; stateDir: string }> {
    const hs: HaproxyInstance[] = [];
    for (let i = 0; i < n; i++) {
      const h = await startHaproxy(backends);
      cleanups.push(() => h.stop());
      hs.push(h);
    }
    const state = await tempDir();
    cleanups.push(() => state.remove());
    const r = new HaproxyRouter({
      sockets: hs.map((h) => h.socket),
      stateDir: state.dir,
      serverOptions: OPTS,
      removeTimeoutMs: 5000,
    });
    cleanups.push(() => r.close());
    await r.ensureRoute({ service: S, listen: `127.0.0.1:${await freePort()}`, drainTimeoutMs: 5000 });
    return { hs, r, stateDir: state.dir };
  }

  /** Who answered `n` requests through `url` (name → count; failures under their status). */
  async function hits(url: string, n: number, concurrency = 16): Promise<Record<string, number>> {
    const count: Record<string, number> = {};
    let left = n;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) {
          const a = await send(client, `${url}/`).catch((e: Error) => ({ status: 0, text: e.message }));
          const key = a.status === 200 ? a.text : `${a.status} ${a.status === 0 ? a.text : ''}`.trim();
          count[key] = (count[key] ?? 0) + 1;
        }
      }),
    );
    return count;
  }

  const serverNames = async (h: HaproxyInstance): Promise<string[]> => {
    const [csv] = await runBatch(h.socket, [`show stat ${S} 4 -1`]);
    return (csv ?? '')
      .split('\n')
      .filter((l) => l.startsWith(`${S},`))
      .map((l) => l.split(',')[1]!);
  };

  it('traffic reaches added servers, stops reaching drained ones, and removed servers are deleted', async () => {
    const { hs, r } = await setup();
    const h = hs[0]!;
    await r.addBackends(S, [
      { id: 'a', address: A.address, revision: 1 },
      { id: 'b', address: B.address, revision: 1 },
    ]);
    expect(await hits(h.url, 40)).toEqual({ A: 20, B: 20 });
    await r.drain(S, ['b']);
    expect(await hits(h.url, 40)).toEqual({ A: 40 });
    expect((await r.waitDrained(S, ['b'], 2000)).drained).toBe(true);
    await r.removeBackends(S, ['b']);
    expect(await serverNames(h)).toEqual(['baton-a']);
    const st = await r.status(S);
    expect(st?.backends.map((x) => [x.id, x.state, x.requests])).toEqual([['a', 'active', 60]]);
    expect(st?.revisions).toEqual([
      { revision: 1, requests: 60, errors: 0, latency: { bounds: [], counts: [0] } },
    ]);
    await r.removeRoute(S);
    expect(await serverNames(h)).toEqual([]);
  });

  it('waitDrained waits for in-flight requests on EVERY haproxy instance', async () => {
    const { hs, r } = await setup(2);
    await r.addBackends(S, [{ id: 'b', address: B.address, revision: 1 }]);
    const t0 = Date.now();
    const first = send(client, `${hs[0]!.url}/slow`);
    await new Promise((res) => setTimeout(res, 700));
    let secondDoneAt = 0;
    const second = send(client, `${hs[1]!.url}/slow`).then((a) => {
      secondDoneAt = Date.now();
      return a;
    });
    await waitFor(async () => (await r.status(S))?.backends[0]?.inFlight === 2, { message: '2 in flight' });
    await r.drain(S, ['b']);
    expect(await r.waitDrained(S, ['b'], 200)).toMatchObject({ drained: false, inFlight: 2 });
    const res = await r.waitDrained(S, ['b'], 10_000);
    expect(res).toMatchObject({ drained: true, inFlight: 0 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2600);
    expect(secondDoneAt).toBeGreaterThan(0);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });

  it('a 90/10 split gives the canary about 10% (±3%) of 2,000 requests', async () => {
    const { hs, r } = await setup();
    await r.addBackends(S, [
      { id: 'a', address: A.address, revision: 1 },
      { id: 'b', address: B.address, revision: 2 },
    ]);
    const split: RevisionSplit = {
      weights: [
        { revision: 1, percent: 90 },
        { revision: 2, percent: 10 },
      ],
      sticky: false,
    };
    await r.setSplit(S, split);
    const count = await hits(hs[0]!.url, 2000, 32);
    expect((count.A ?? 0) + (count.B ?? 0)).toBe(2000);
    expect(Math.abs((count.B ?? 0) / 2000 - 0.1)).toBeLessThanOrEqual(0.03);
    const st = await r.status(S);
    expect(st?.revisions.map((x) => [x.revision, x.requests])).toEqual([
      [1, count.A],
      [2, count.B],
    ]);
    await r.setSplit(S, null);
    expect(await hits(hs[0]!.url, 40)).toEqual({ A: 20, B: 20 });
  });

  it('after a reload, reconcile() puts Baton servers back (also from a restarted control plane)', async () => {
    const { hs, r, stateDir } = await setup();
    const h = hs[0]!;
    await r.addBackends(S, [
      { id: 'a', address: A.address, revision: 1 },
      { id: 'b', address: B.address, revision: 1 },
    ]);
    await r.drain(S, ['b']);
    expect((await r.reconcile())[0]).toMatchObject({ reloaded: false, restored: {} });
    // Traffic keeps flowing while haproxy reloads; requests may fail until reconcile() runs.
    let stop = false;
    const during = (async () => {
      while (!stop) {
        await send(client, `${h.url}/`).catch(() => undefined);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    try {
      await h.reload();
      expect(await serverNames(h)).toEqual([]);
      const [rep] = await r.reconcile();
      expect(rep).toMatchObject({ socket: h.socket, reloaded: true, restored: { web: ['a', 'b'] } });
    } finally {
      stop = true;
      await during;
    }
    expect(await serverNames(h)).toEqual(['baton-a', 'baton-b']);
    expect(await hits(h.url, 100)).toEqual({ A: 100 });
    // A control plane restarted after another reload re-applies from the state file.
    await h.reload();
    const r2 = new HaproxyRouter({ sockets: [h.socket], stateDir, serverOptions: OPTS });
    cleanups.push(() => r2.close());
    expect((await r2.reconcile())[0]).toMatchObject({ reloaded: false, restored: { web: ['a', 'b'] } });
    expect(await hits(h.url, 100)).toEqual({ A: 100 });
    expect((await r2.status(S))?.backends.map((x) => [x.id, x.state])).toEqual([
      ['a', 'active'],
      ['b', 'draining'],
    ]);
    expect((await r2.reconcile())[0]).toMatchObject({ reloaded: false, restored: {} });
  });

  it('maintenance sends every Baton server to MAINT (HAProxy answers 503) and serve brings them back', async () => {
    const { hs, r } = await setup();
    await r.addBackends(S, [{ id: 'a', address: A.address, revision: 1 }]);
    await r.setMode(S, { kind: 'maintenance' });
    expect(await hits(hs[0]!.url, 4)).toEqual({ 503: 4 });
    await r.setMode(S, { kind: 'serve' });
    expect(await hits(hs[0]!.url, 4)).toEqual({ A: 4 });
    await expect(r.setMode(S, { kind: 'hold', maxMs: 1000 })).rejects.toThrow(
      /hold mode needs the embedded proxy/,
    );
    await expect(r.setPreview(S, 2)).rejects.toMatchObject({ code: 'DRIVER' });
    await r.setPreview(S, null);
    await expect(
      r.ensureRoute({ service: S, listen: '127.0.0.1:1', drainTimeoutMs: 1, preview: '127.0.0.1:2' }),
    ).rejects.toThrow(/preview listeners need the embedded proxy/);
    expect((await r.status(S))?.mode).toEqual({ kind: 'serve' });
  });

  it('ensureRoute keeps split, mode and standby servers; removeRoute forgets them', async () => {
    const { hs, r } = await setup();
    const listen = (await r.status(S))!.listen;
    const split: RevisionSplit = { weights: [{ revision: 2, percent: 100 }], sticky: false };
    await r.addBackends(S, [{ id: 'c', address: B.address, revision: 2 }], { standby: true });
    expect(await hits(hs[0]!.url, 2)).toEqual({ 503: 2 });
    await r.setSplit(S, split);
    await r.setMode(S, { kind: 'maintenance', body: 'x' });
    await r.ensureRoute({ service: S, listen, drainTimeoutMs: 500 });
    expect(await r.status(S)).toMatchObject({
      split,
      mode: { kind: 'maintenance', body: 'x' },
      backends: [{ id: 'c', state: 'standby' }],
    });
    await r.removeRoute(S);
    expect(await serverNames(hs[0]!)).toEqual([]);
    await r.ensureRoute({ service: S, listen, drainTimeoutMs: 500 });
    expect(await r.status(S)).toMatchObject({ split: null, mode: { kind: 'serve' }, backends: [] });
  });

  it('a backend with "balance source" gives an error naming the setting to change', async () => {
    const { r } = await setup(1, { backends: [{ name: 'web' }, { name: 'api', balance: 'source' }] });
    await r.ensureRoute({ service: 'api', listen: `127.0.0.1:${await freePort()}`, drainTimeoutMs: 100 });
    const err = r.addBackends('api', [{ id: 'a', address: A.address, revision: 1 }]);
    await expect(err).rejects.toMatchObject({ code: 'DRIVER' });
    await expect(err).rejects.toThrow(/dynamic load balancing.*balance roundrobin/);
    await expect(
      r.ensureRoute({ service: 'nobackend', listen: `127.0.0.1:${await freePort()}`, drainTimeoutMs: 100 }),
    ).rejects.toThrow(/no backend "nobackend".*declare "backend nobackend"/);
  });

  it('an unreachable socket is UNAVAILABLE; a socket below level admin is a DriverError', async () => {
    const state = await tempDir();
    cleanups.push(() => state.remove());
    for (const socket of [`${state.dir}/missing.sock`, `127.0.0.1:${await freePort()}`]) {
      const r = new HaproxyRouter({ sockets: [socket], stateDir: state.dir });
      await expect(
        r.ensureRoute({ service: S, listen: '127.0.0.1:1', drainTimeoutMs: 1 }),
      ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    }
    const h = await startHaproxy({ level: 'user' });
    cleanups.push(() => h.stop());
    const r = new HaproxyRouter({ sockets: [h.socket], stateDir: state.dir });
    await r.ensureRoute({ service: S, listen: '127.0.0.1:1', drainTimeoutMs: 1 });
    await expect(r.addBackends(S, [{ id: 'a', address: A.address, revision: 1 }])).rejects.toThrow(
      /Permission denied.*level admin/,
    );
  });
});
