import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { baton, type HelloFixture, helloFixture, writeHello } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

/**
 * GET /slow with `head`: resolves once the response head is back (the request is in flight at the
 * instance it names) with that instance's pid and version; the body ends when the test releases it.
 */
async function slowRequest(base: string, key: string) {
  const res = await request(`${base}/slow?ms=60000&head&key=${key}`);
  expect(res.statusCode).toBe(200);
  let ended = false;
  const body = res.body.text().then((t) => {
    ended = true;
    return t.trim();
  });
  // Not awaited until released: an error then fails the test there, not as an unhandled rejection.
  body.catch(() => undefined);
  return {
    pid: Number(res.headers['x-pid']),
    version: String(res.headers['x-version']),
    done: () => ended,
    body,
  };
}

const DEPLOYS = 20;

describe('zero-downtime deploys of local processes behind the embedded proxy', () => {
  let f: HelloFixture;

  beforeAll(async () => {
    f = await helloFixture({ version: 'v0' });
  });

  afterAll(async () => {
    await f?.close();
  });

  it('20 consecutive deploys alternating v1/v2 under 200+ requests/s drop no request; slow requests straddling each switch complete', async () => {
    const load = startLoad(f.base, { rps: 240 });
    let previous = 'v0';
    for (let i = 0; i < DEPLOYS; i++) {
      const version = i % 2 === 0 ? 'v1' : 'v2';
      // A slow request, its head back before the deploy starts (so surely in flight), held open by the
      // old instance until this test releases it.
      const key = `slow-${i}`;
      const slow = await slowRequest(f.base, key);
      expect(slow.version).toBe(previous);
      const inst = (await f.status()).instances.find((x) => x.pid === slow.pid);
      expect(inst, `the instance of pid ${slow.pid}`).toMatchObject({ revision: i + 1, routed: 'active' });

      writeHello(f.ws, { version, listen: f.port, drainTimeout: '30s' });
      const deploying = baton(['deploy', '-f', f.ws.specFile, '--json'], { dataDir: f.ws.dataDir });
      // The switch away from its instance: the proxy sends it no new request (draining), and the slow
      // request is still in flight there — seen by the proxy and by this client.
      await waitFor(
        async () => {
          const s = (await f.status()).instances.find((x) => x.id === inst!.id);
          return s?.routed === 'draining' && s.inFlight >= 1;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 100,
          message: `deploy ${i + 1}: ${inst!.id} draining with the slow request in flight`,
        },
      );
      expect(slow.done(), `deploy ${i + 1}: the slow request ended before the switch`).toBe(false);
      // Only now may it finish: the drain waits for it, and it is answered by the instance that started it.
      const released = await request(`http://127.0.0.1:${inst!.port}/release?key=${key}`);
      expect(released.statusCode).toBe(200);
      await released.body.dump();
      expect(await slow.body).toBe(`slow 60000ms from ${previous}`);

      const r = await deploying;
      expect(r.code, `deploy ${i + 1}: ${r.stdout}${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { ok: boolean; results: Array<{ revision: number }> };
      expect(out.ok).toBe(true);
      const body = (await (await request(`${f.base}/`)).body.text()).trim();
      expect(body).toBe(`hello from ${version}`);
      previous = version;
    }
    const report = await load.stop();
    expect(report.errors, `failed: ${report.errors.join('; ')}`).toEqual([]);
    expect(report.failed).toBe(0);
    // The load it claims: 200+ requests/s achieved over the whole run (asked: 240), on both kinds of
    // connection (alternating, so each carries half), every one answered 200.
    const { keepAlive, newConnection } = report.kinds;
    const rates = `${report.rps.toFixed(1)}/s over ${(report.elapsedMs / 1000).toFixed(1)} s (keep-alive ${keepAlive.rps.toFixed(1)}/s, new connections ${newConnection.rps.toFixed(1)}/s, longest gap ${report.maxGapMs.toFixed(0)} ms)`;
    expect(report.rps, rates).toBeGreaterThanOrEqual(200);
    expect(keepAlive.rps, rates).toBeGreaterThanOrEqual(99);
    expect(newConnection.rps, rates).toBeGreaterThanOrEqual(99);
    expect([keepAlive.ok, newConnection.ok]).toEqual([keepAlive.sent, newConnection.sent]);
    console.log(`zero-downtime load: ${report.sent} requests, ${rates}`);
    expect([...report.bodies.keys()].sort()).toEqual(['hello from v0', 'hello from v1', 'hello from v2']);

    const status = await baton(['status', '--json'], { dataDir: f.ws.dataDir });
    const svc = (JSON.parse(status.stdout) as { services: Array<{ instances: Array<{ revision: number }> }> })
      .services[0]!;
    // 21 revisions recorded, exactly 2 instances left, both of the last one.
    expect(svc.instances.map((i) => i.revision)).toEqual([DEPLOYS + 1, DEPLOYS + 1]);
  }, 600_000);

  it('an open WebSocket to the old version stays open through the deploy until the drain timeout ends', async () => {
    writeHello(f.ws, { version: 'ws-old', listen: f.port, drainTimeout: '3s' });
    expect((await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).code).toBe(0);
    const sock = new WebSocket(`ws://127.0.0.1:${f.port}/ws`);
    const messages: string[] = [];
    sock.on('message', (m) => messages.push(m.toString()));
    await new Promise<void>((res, rej) => {
      sock.once('open', () => res());
      sock.once('error', rej);
    });
    const closed = new Promise<number>((res) => sock.once('close', () => res(Date.now())));

    writeHello(f.ws, { version: 'ws-new', listen: f.port, drainTimeout: '3s' });
    const started = Date.now();
    const deploying = baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    // While the deploy drains the old instances, the socket still talks to the old version.
    await waitFor(
      async () =>
        (await (await request(`http://127.0.0.1:${f.port}/`)).body.text()).trim() === 'hello from ws-new',
      {
        timeoutMs: 20_000,
      },
    );
    sock.send('ping');
    await waitFor(() => messages.length > 0, { message: 'echo over the draining WebSocket' });
    expect(messages[0]).toBe('ws-old: ping');
    const r = await deploying;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/drain timeout/);
    const closedAt = await closed;
    // Closed by the drain timeout (3 s per draining wave), not at the switch.
    expect(closedAt - started).toBeGreaterThanOrEqual(3000);
  }, 60_000);

  it('a WebSocket that closes by itself lets the drain finish at once', async () => {
    writeHello(f.ws, { version: 'ws-a', listen: f.port, drainTimeout: '30s' });
    expect((await baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir })).code).toBe(0);
    const sock = new WebSocket(`ws://127.0.0.1:${f.port}/ws`);
    await new Promise<void>((res, rej) => {
      sock.once('open', () => res());
      sock.once('error', rej);
    });
    writeHello(f.ws, { version: 'ws-b', listen: f.port, drainTimeout: '30s' });
    const started = Date.now();
    const deploying = baton(['deploy', '-f', f.ws.specFile], { dataDir: f.ws.dataDir });
    await waitFor(
      async () =>
        (await (await request(`http://127.0.0.1:${f.port}/`)).body.text()).trim() === 'hello from ws-b',
      {
        timeoutMs: 20_000,
      },
    );
    sock.close();
    const r = await deploying;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/drain timeout/);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);
});
