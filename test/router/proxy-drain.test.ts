import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ProxyRouter } from '../../src/router/proxy/client.js';
import { freePort, startBackend, startInProcessProxy, type TestBackend, waitFor } from './helpers.js';

const S = 'web';

describe('proxy draining', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let router: ProxyRouter;
  let port: number;
  let client: Agent;
  const backends: TestBackend[] = [];
  const sockets: WebSocket[] = [];

  const get = async (path = '/') => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { dispatcher: client });
    return { status: res.statusCode, text: await res.body.text() };
  };
  /** A backend that answers its name, and echoes WebSocket messages prefixed with it. */
  const wsBackend = async (name: string): Promise<TestBackend> => {
    const b = await startBackend(name);
    const wss = new WebSocketServer({ server: b.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m.toString()}`)));
    backends.push(b);
    return b;
  };
  const openWs = async (): Promise<{ ws: WebSocket; ask: (m: string) => Promise<string> }> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    sockets.push(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const ask = (m: string) =>
      new Promise<string>((resolve) => {
        ws.once('message', (d) => resolve(d.toString()));
        ws.send(m);
      });
    return { ws, ask };
  };

  beforeEach(async () => {
    proxy = await startInProcessProxy();
    router = proxy.router;
    port = await freePort();
    client = new Agent();
    await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
  });
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await client.close();
    await proxy.cleanup();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('a slow request straddling switchTo finishes on the old backend; waitDrained waits for it', async () => {
    let oldDone = false;
    const a = await startBackend('a', (req, res) => {
      req.resume();
      setTimeout(
        () => {
          oldDone = true;
          res.end('a');
        },
        req.url === '/slow' ? 2000 : 0,
      );
    });
    const b = await startBackend('b');
    backends.push(a, b);
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const slow = get('/slow');
    await waitFor(() => a.hits === 1, 'slow request at a');
    await router.addBackends(S, [{ id: 'b', address: b.address, revision: 2 }]);
    await router.switchTo(S, ['b']);
    for (let i = 0; i < 10; i++) expect(await get()).toEqual({ status: 200, text: 'b' });
    expect(a.hits).toBe(1);
    const st = await router.status(S);
    expect(st?.backends.find((x) => x.id === 'a')).toMatchObject({ state: 'draining', inFlight: 1 });
    expect(await router.waitDrained(S, ['a'], 100)).toMatchObject({ drained: false, inFlight: 1 });
    const drained = await router.waitDrained(S, ['a'], 10_000);
    expect(oldDone).toBe(true);
    expect(drained).toMatchObject({ drained: true, inFlight: 0 });
    expect(await slow).toEqual({ status: 200, text: 'a' });
    await router.removeBackends(S, ['a']);
  });

  it('a streamed response: its head reaches the client at once, and the drain waits for its end', async () => {
    let finish = () => {};
    const a = await startBackend('a', (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      finish = () => res.end('a, at last');
    });
    backends.push(a);
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    // Resolves on the head: the backend holds the body until this test finishes it.
    const res = await request(`http://127.0.0.1:${port}/stream`, { dispatcher: client });
    expect(res.statusCode).toBe(200);
    await router.drain(S, ['a']);
    expect(await router.waitDrained(S, ['a'], 100)).toMatchObject({ drained: false, inFlight: 1 });
    finish();
    expect(await res.body.text()).toBe('a, at last');
    expect(await router.waitDrained(S, ['a'], 10_000)).toMatchObject({ drained: true, inFlight: 0 });
  });

  it('an open WebSocket on a draining backend keeps working until it closes', async () => {
    const a = await wsBackend('a');
    const b = await wsBackend('b');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const { ws, ask } = await openWs();
    expect(await ask('hi')).toBe('a:hi');
    await router.addBackends(S, [{ id: 'b', address: b.address, revision: 2 }]);
    await router.switchTo(S, ['b']);
    expect((await get()).text).toBe('b');
    expect(await ask('still')).toBe('a:still');
    const st = await router.status(S);
    expect(st?.backends.find((x) => x.id === 'a')).toMatchObject({ state: 'draining', websockets: 1 });
    expect(await router.waitDrained(S, ['a'], 50)).toMatchObject({ drained: false, inFlight: 1 });
    const waiting = router.waitDrained(S, ['a'], 10_000);
    expect(await ask('last')).toBe('a:last');
    ws.close();
    expect(await waiting).toMatchObject({ drained: true, inFlight: 0 });
    const { ask: ask2 } = await openWs();
    expect(await ask2('new')).toBe('b:new');
  });

  it('removeBackends after the drain timeout closes a lingering WebSocket', async () => {
    const a = await wsBackend('a');
    const b = await wsBackend('b');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const { ws, ask } = await openWs();
    expect(await ask('hi')).toBe('a:hi');
    let closed = false;
    ws.on('close', () => {
      closed = true;
    });
    await router.addBackends(S, [{ id: 'b', address: b.address, revision: 2 }]);
    await router.switchTo(S, ['b']);
    const res = await router.waitDrained(S, ['a'], 200);
    expect(res).toMatchObject({ drained: false, inFlight: 1 });
    expect(res.waitedMs).toBeGreaterThanOrEqual(150);
    await router.removeBackends(S, ['a']);
    await waitFor(() => closed, 'WebSocket closed by the proxy');
    expect((await router.status(S))?.backends.map((x) => x.id)).toEqual(['b']);
  });

  it('removeRoute returns at once; an open WebSocket is cut after the drain timeout', async () => {
    // A drain timeout long enough for one more message after removeRoute, even on a loaded machine.
    await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 3000 });
    const a = await wsBackend('a');
    await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const { ws, ask } = await openWs();
    expect(await ask('hi')).toBe('a:hi');
    let closedAt = 0;
    ws.on('close', () => {
      closedAt = Date.now();
    });
    const t0 = Date.now();
    await router.removeRoute(S);
    // Returned before the drain ended: the WebSocket still carries a message after it (an ordering; a
    // removeRoute that waited for the drain would have cut it first, and the answer would never come).
    expect(closedAt).toBe(0);
    const answer = await Promise.race([
      ask('still'),
      new Promise<string>((resolve) => ws.once('close', () => resolve('closed before answering'))),
    ]);
    expect(answer).toBe('a:still');
    expect(await router.status(S)).toBeUndefined();
    await waitFor(() => closedAt > 0, 'WebSocket cut', 15_000);
    // Cut by the drain timeout, not at once: a lower bound holds on any machine.
    expect(closedAt - t0).toBeGreaterThanOrEqual(2900);
  });

  it('answers an upgrade with 503 when no backend is available', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    sockets.push(ws);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(503);
  });
});
