import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { adminCall } from '../../src/router/proxy/client.js';
import type { RevisionSplit } from '../../src/router/router.js';
import { freePort, send, startBackend, startInProcessProxy, type TestBackend } from './helpers.js';

const S = 'web';
const STICKY = 'baton-sticky-web';

/** Revision 1: backends s1, s2 (stable); revision 2: c1 (canary). */
describe('proxy revision split', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let base: string;
  let port: number;
  let client: Agent;
  const backends: TestBackend[] = [];
  const wss: WebSocketServer[] = [];
  const revOf: Record<string, number> = { s1: 1, s2: 1, c1: 2 };

  const get = (headers: Record<string, string> = {}) => send(client, `${base}/`, { headers });
  const split = (weights: Array<[number, number]>, sticky = false): RevisionSplit => ({
    weights: weights.map(([revision, percent]) => ({ revision, percent })),
    canary: 2,
    stable: 1,
    sticky,
  });

  beforeEach(async () => {
    proxy = await startInProcessProxy();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    client = new Agent({ connections: 50 });
    await proxy.router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    for (const name of ['s1', 's2', 'c1']) {
      const b = await startBackend(name);
      const ws = new WebSocketServer({ server: b.server });
      ws.on('connection', (sock) => sock.send(name));
      wss.push(ws);
      backends.push(b);
      await proxy.router.addBackends(S, [{ id: name, address: b.address, revision: revOf[name]! }]);
    }
  });
  afterEach(async () => {
    await client.close();
    await proxy.cleanup();
    for (const w of wss.splice(0)) w.close();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('90/10 sends 10% ± 2% of 5,000 requests to the canary, counted per revision', async () => {
    await proxy.router.setSplit(
      S,
      split([
        [1, 90],
        [2, 10],
      ]),
    );
    let canary = 0;
    for (let i = 0; i < 100; i++) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => get()));
      for (const r of batch) {
        expect(r.status).toBe(200);
        if (revOf[r.text] === 2) canary++;
      }
    }
    expect(Math.abs(canary / 5000 - 0.1)).toBeLessThanOrEqual(0.02);
    const st = await proxy.router.status(S);
    expect(st?.revisions.map((r) => [r.revision, r.requests])).toEqual([
      [1, 5000 - canary],
      [2, canary],
    ]);
    // Without a split, every active backend shares the traffic again.
    await proxy.router.setSplit(S, null);
    const after = await Promise.all(Array.from({ length: 30 }, () => get()));
    expect(new Set(after.map((r) => r.text))).toEqual(new Set(['s1', 's2', 'c1']));
  });

  it('forces a revision by header or cookie (canary, stable or a number), even at weight 0', async () => {
    await proxy.router.setSplit(
      S,
      split([
        [1, 100],
        [2, 0],
      ]),
    );
    const rev = async (headers: Record<string, string>) => revOf[(await get(headers)).text];
    for (let i = 0; i < 5; i++) {
      expect(await rev({ 'x-baton-revision': 'canary' })).toBe(2);
      expect(await rev({ 'x-baton-revision': '2' })).toBe(2);
      expect(await rev({ cookie: 'a=b; baton-revision=canary; c=d' })).toBe(2);
      expect(await rev({ cookie: 'baton-revision=2' })).toBe(2);
      expect(await rev({ 'x-baton-revision': 'stable', cookie: 'baton-revision=canary' })).toBe(1);
      expect(await rev({ 'x-baton-revision': 'blue' })).toBe(1);
      expect(await rev({})).toBe(1);
    }
    // A WebSocket upgrade follows the same choice.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { 'X-Baton-Revision': 'canary' } });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(String(m)));
      ws.once('error', reject);
    });
    ws.close();
    expect(first).toBe('c1');
  });

  it('a sticky cookie keeps a client on its revision while it keeps weight > 0', async () => {
    await proxy.router.setSplit(
      S,
      split(
        [
          [1, 90],
          [2, 10],
        ],
        true,
      ),
    );
    // Clients without a cookie get one for the revision that answered them.
    const cookies: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await get();
      const set = r.headers['set-cookie'];
      expect(set).toBe(`${STICKY}=${revOf[r.text]}; Path=/; HttpOnly; SameSite=Lax`);
      cookies.push(String(set).split(';')[0]!);
    }
    expect(cookies.filter((c) => c === `${STICKY}=2`)).toHaveLength(1);
    const onCanary = { cookie: `other=1; ${STICKY}=2` };
    const onStable = { cookie: `${STICKY}=1` };
    const expectAll = async (headers: Record<string, string>, n: number, revision: number) => {
      for (let i = 0; i < n; i++) {
        const r = await get(headers);
        expect(revOf[r.text]).toBe(revision);
        expect(r.headers['set-cookie']).toBeUndefined();
      }
    };
    await expectAll(onCanary, 200, 2);
    await expectAll(onStable, 50, 1);
    await proxy.router.setSplit(
      S,
      split(
        [
          [1, 50],
          [2, 50],
        ],
        true,
      ),
    );
    await expectAll(onCanary, 100, 2);
    await expectAll(onStable, 100, 1);
    // The canary loses its weight: its clients are moved and told so.
    await proxy.router.setSplit(
      S,
      split(
        [
          [1, 100],
          [2, 0],
        ],
        true,
      ),
    );
    const moved = await get(onCanary);
    expect(revOf[moved.text]).toBe(1);
    expect(moved.headers['set-cookie']).toBe(`${STICKY}=1; Path=/; HttpOnly; SameSite=Lax`);
    // Not sticky: no cookie is set.
    await proxy.router.setSplit(S, split([[1, 100]]));
    expect((await get()).headers['set-cookie']).toBeUndefined();
  });

  it('falls back to any healthy active backend when the chosen revision has none', async () => {
    await proxy.router.setSplit(
      S,
      split(
        [
          [1, 50],
          [2, 50],
        ],
        true,
      ),
    );
    await proxy.router.setHealthy(S, 'c1', false);
    for (let i = 0; i < 40; i++) {
      const r = await get(i % 2 ? { 'x-baton-revision': 'canary' } : { cookie: `${STICKY}=2` });
      expect(r.status).toBe(200);
      expect(revOf[r.text]).toBe(1);
    }
    // Stable unhealthy too: the canary's recovery is enough to serve everything.
    await proxy.router.setHealthy(S, 's1', false);
    await proxy.router.setHealthy(S, 's2', false);
    expect((await get()).status).toBe(503);
    await proxy.router.setHealthy(S, 'c1', true);
    for (let i = 0; i < 10; i++)
      expect(await get({ 'x-baton-revision': 'stable' })).toMatchObject({ status: 200, text: 'c1' });
    // A standby revision never takes production traffic, even when it is the only one with weight.
    await proxy.router.addBackends(S, [{ id: 'c1', address: backends[2]!.address, revision: 2 }], {
      standby: true,
    });
    expect((await get({ 'x-baton-revision': 'canary' })).status).toBe(503);
  });

  it('the admin API refuses a bad split with 400 and a clear message', async () => {
    const call = (body: unknown) =>
      adminCall(proxy.router.socketPath, 'POST', `/routes/${S}/split`, body).catch(
        (e: Error & { code: string }) => e,
      );
    expect(
      await call({
        split: {
          weights: [
            { revision: 1, percent: 60 },
            { revision: 2, percent: 30 },
          ],
        },
      }),
    ).toMatchObject({
      code: 'BAD_INPUT',
      message: 'split.weights percents sum to 90, not 100',
    });
    expect(
      await call({
        split: {
          weights: [
            { revision: 1, percent: 99.5 },
            { revision: 2, percent: 0.5 },
          ],
        },
      }),
    ).toMatchObject({
      message: 'split.weights[0].percent must be an integer from 0 to 100 (got 99.5)',
    });
    expect(await call({})).toMatchObject({ code: 'BAD_INPUT' });
    const mode = await adminCall(proxy.router.socketPath, 'POST', `/routes/${S}/mode`, {
      mode: { kind: 'hold', maxMs: -5 },
    }).catch((e: Error) => e);
    expect(mode).toMatchObject({
      code: 'BAD_INPUT',
      message: 'mode.maxMs must be an integer from 1 to 300000 (ms)',
    });
    expect(await proxy.router.status(S)).toMatchObject({ split: null, mode: { kind: 'serve' } });
  });
});
