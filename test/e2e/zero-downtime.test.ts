import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { baton, type HelloFixture, helloFixture, writeHello } from '../helpers/baton.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';

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
    const slow: Array<Promise<{ status: number; body: string }>> = [];
    const versions: string[] = [];
    for (let i = 0; i < 20; i++) {
      const version = i % 2 === 0 ? 'v1' : 'v2';
      versions.push(version);
      writeHello(f.ws, { version, listen: f.port });
      // A 2 s request started just before the deploy straddles the switch away from its backend.
      slow.push(
        request(`${f.base}/slow?ms=2000`).then(async (r) => ({
          status: r.statusCode,
          body: await r.body.text(),
        })),
      );
      const r = await baton(['deploy', '-f', f.ws.specFile, '--json'], { dataDir: f.ws.dataDir });
      expect(r.code, `deploy ${i + 1}: ${r.stdout}${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { ok: boolean; results: Array<{ revision: number }> };
      expect(out.ok).toBe(true);
      const body = (await (await request(`${f.base}/`)).body.text()).trim();
      expect(body).toBe(`hello from ${version}`);
    }
    const report = await load.stop();
    const slowResults = await Promise.all(slow);
    expect(report.errors, `failed: ${report.errors.join('; ')}`).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.sent).toBeGreaterThan(2000);
    expect([...report.bodies.keys()].sort()).toEqual(['hello from v0', 'hello from v1', 'hello from v2']);
    for (const s of slowResults) expect(s.status).toBe(200);
    // Each slow request was answered by the version that served when it started, not cut off.
    expect(slowResults.every((s) => /^slow 2000ms from v[0-2]$/m.test(s.body))).toBe(true);

    const status = await baton(['status', '--json'], { dataDir: f.ws.dataDir });
    const svc = (JSON.parse(status.stdout) as { services: Array<{ instances: Array<{ revision: number }> }> })
      .services[0]!;
    // 21 revisions recorded, exactly 2 instances left, both of the last one.
    expect(svc.instances.map((i) => i.revision)).toEqual([21, 21]);
  }, 240_000);

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
