import { Agent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from '../helpers/wait.js';
import { freePort, send, startBackend, startInProcessProxy, type TestBackend } from './helpers.js';

const S = 'web';

describe('proxy route modes', () => {
  let proxy: Awaited<ReturnType<typeof startInProcessProxy>>;
  let base: string;
  let port: number;
  let client: Agent;
  let a: TestBackend;
  let wss: WebSocketServer;

  const held = async () => (await proxy.router.status(S))?.held;

  beforeEach(async () => {
    proxy = await startInProcessProxy();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    client = new Agent({ connections: 100 });
    // Echoes method and body, so a held request's body can be checked after its release.
    a = await startBackend('a', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).toString()}`));
    });
    wss = new WebSocketServer({ server: a.server });
    wss.on('connection', (sock) => sock.send('hello'));
    await proxy.router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    await proxy.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
  });
  afterEach(async () => {
    await client.close();
    await proxy.cleanup();
    wss.close();
    await a.close();
  });

  const wsOpen = (): Promise<string> =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.once('message', (m) => {
        ws.close();
        resolve(`message ${m}`);
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => resolve(`${res.statusCode} ${res.headers['retry-after']} ${body}`));
      });
      ws.once('error', (e) => resolve(`error ${e.message}`));
    });

  it('maintenance answers 503 with the page and Retry-After, WebSockets included', async () => {
    await proxy.router.setMode(S, { kind: 'maintenance' });
    const r = await send(client, `${base}/`);
    expect(r).toMatchObject({ status: 503, text: 'web is down for maintenance\n' });
    expect(r.headers['retry-after']).toBe('30');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(await wsOpen()).toBe('503 30 web is down for maintenance\n');
    await proxy.router.setMode(S, { kind: 'maintenance', body: '<h1>Back at noon</h1>' });
    const page = await send(client, `${base}/`, { method: 'POST', body: 'x' });
    expect(page).toMatchObject({ status: 503, text: '<h1>Back at noon</h1>' });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(a.hits).toBe(0);
    await proxy.router.setMode(S, { kind: 'serve' });
    expect(await send(client, `${base}/`)).toMatchObject({ status: 200, text: 'GET ' });
    expect(await wsOpen()).toBe('message hello');
  });

  it('hold keeps 50 requests until serve, then forwards all of them with their bodies', async () => {
    await proxy.router.setMode(S, { kind: 'hold', maxMs: 60_000 });
    const body = (i: number) => `${i}:`.padEnd(200_000, String.fromCharCode(97 + (i % 26)));
    const pending = Array.from({ length: 50 }, (_, i) =>
      i % 2 ? send(client, `${base}/${i}`, { method: 'POST', body: body(i) }) : send(client, `${base}/${i}`),
    );
    const ws = wsOpen();
    await waitFor(async () => (await held()) === 51, { message: '50 requests and an upgrade held' });
    expect(a.hits).toBe(0);
    await proxy.router.setMode(S, { kind: 'serve' });
    const answers = await Promise.all(pending);
    answers.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.text === (i % 2 ? `POST ${body(i)}` : 'GET '), `answer ${i}`).toBe(true);
    });
    expect(await ws).toBe('message hello');
    expect(await held()).toBe(0);
    expect(a.hits).toBe(50); // the upgrade is not a request for the backend's http server
  });

  it('a request held longer than maxMs gets a 503; one that leaves is forgotten', async () => {
    await proxy.router.setMode(S, { kind: 'hold', maxMs: 150 });
    const started = Date.now();
    expect(await send(client, `${base}/`, { method: 'POST', body: 'late' })).toMatchObject({
      status: 503,
      text: 'baton: request held longer than 150ms\n',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await proxy.router.setMode(S, { kind: 'hold', maxMs: 60_000 });
    const ac = new AbortController();
    const gone = send(client, `${base}/`, { signal: ac.signal }).catch((e: Error) => e.name);
    await waitFor(async () => (await held()) === 1, { message: 'one request held' });
    ac.abort();
    expect(await gone).toBe('AbortError');
    await waitFor(async () => (await held()) === 0, { message: 'the aborted request forgotten' });
    expect(a.hits).toBe(0);
  });

  it('hold then maintenance answers the held requests with the maintenance page', async () => {
    await proxy.router.setMode(S, { kind: 'hold', maxMs: 60_000 });
    const pending = Array.from({ length: 5 }, () => send(client, `${base}/`));
    await waitFor(async () => (await held()) === 5, { message: 'five requests held' });
    await proxy.router.setMode(S, { kind: 'maintenance', body: 'down' });
    for (const r of await Promise.all(pending)) expect(r).toMatchObject({ status: 503, text: 'down' });
    expect(await held()).toBe(0);
    // Removing the route answers whatever is still held.
    await proxy.router.setMode(S, { kind: 'hold', maxMs: 60_000 });
    const last = send(client, `${base}/`);
    await waitFor(async () => (await held()) === 1, { message: 'one request held' });
    await proxy.router.removeRoute(S);
    expect(await last).toMatchObject({ status: 503, text: 'baton: route for service web was removed\n' });
    expect(a.hits).toBe(0);
  });
});
