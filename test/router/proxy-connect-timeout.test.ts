import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startBackend, startInProcessProxy, type TestBackend } from './helpers.js';

/**
 * A backend host that takes no new connection (its accept queue full, as a wedged host's is): the
 * proxy's connect gives up at the service's `connectTimeoutMs` (undici's connector, one per backend,
 * made again when the limits change) and the request goes to another instance, or gets an error long
 * before the response timeout.
 */
describe('upstream connect timeout (in-process proxy)', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let live: TestBackend;
  let wedged: ChildProcess;
  let wedgedAddress = '';
  const fillers: Socket[] = [];
  let port = 0;

  beforeAll(async () => {
    // A listener with an accept queue of 2 (backlog 1), stopped: the kernel completes two handshakes,
    // then drops every further SYN, so a connect neither succeeds nor fails.
    wedged = spawn(
      process.execPath,
      [
        '-e',
        "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);process.kill(process.pid,'SIGSTOP')})",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const wedgedPort = await new Promise<number>((resolve) =>
      wedged.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))),
    );
    wedgedAddress = `127.0.0.1:${wedgedPort}`;
    for (let i = 0; i < 2; i++)
      fillers.push(
        await new Promise<Socket>((resolve, reject) => {
          const s = connect(wedgedPort, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        }),
      );
    proxy = await startInProcessProxy();
    live = await startBackend('live');
    port = await freePort();
    await proxy.router.ensureRoute({
      service: 'web',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 500,
      limits: { connectTimeoutMs: 300, responseTimeoutMs: 30_000 },
    });
  }, 30_000);

  afterAll(async () => {
    for (const s of fillers) s.destroy();
    wedged?.kill('SIGKILL');
    await proxy?.cleanup();
    await live?.close();
  });

  const get = async () => {
    const started = Date.now();
    const res = await request(`http://127.0.0.1:${port}/`, { reset: true });
    return { status: res.statusCode, body: await res.body.text(), ms: Date.now() - started };
  };

  it('with only the wedged instance: an error after the connect timeout, not the response timeout', async () => {
    await proxy.router.addBackends('web', [{ id: 'wedged', address: wedgedAddress, revision: 1 }]);
    const r = await get();
    expect(r.status).toBeGreaterThanOrEqual(502);
    // A few attempts of 300 ms: far below the 30 s response timeout and undici's own 10 s default.
    expect(r.ms).toBeGreaterThanOrEqual(290);
    expect(r.ms).toBeLessThan(4000);
  }, 30_000);

  it('with a live instance beside it: every request is answered by the live one', async () => {
    await proxy.router.addBackends('web', [{ id: 'live', address: live.address, revision: 1 }]);
    for (let i = 0; i < 6; i++) {
      const r = await get();
      expect(r).toMatchObject({ status: 200, body: 'live' });
    }
  }, 30_000);

  it('a changed connect timeout applies to the next connections of the same instance', async () => {
    await proxy.router.removeBackends('web', ['live']);
    // Back in rotation (as an active probe would put it): its earlier failures kept it out for a moment.
    await proxy.router.setHealthy('web', 'wedged', true);
    await proxy.router.ensureRoute({
      service: 'web',
      listen: `127.0.0.1:${port}`,
      drainTimeoutMs: 500,
      limits: { connectTimeoutMs: 1500, responseTimeoutMs: 30_000 },
    });
    const r = await get();
    expect(r.status).toBeGreaterThanOrEqual(502);
    expect(r.ms).toBeGreaterThanOrEqual(1450);
  }, 30_000);
});
