import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../../src/runtime/process/proc.js';
import { httpGet } from '../helpers/http.js';
import { HELLO } from '../helpers/process-harness.js';
import { waitFor } from '../helpers/wait.js';

interface App {
  child: ChildProcess;
  port: number;
  out: () => string;
  err: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0))
    if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
});

async function boot(env: Record<string, string> = {}, waitListening = true): Promise<App> {
  const port = await freePort('127.0.0.1');
  const child = spawn(process.execPath, [HELLO], {
    env: { ...process.env, PORT: String(port), VERSION: 'v9', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => {
    out += c;
  });
  child.stderr!.on('data', (c) => {
    err += c;
  });
  const app: App = {
    child,
    port,
    out: () => out,
    err: () => err,
    exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>,
  };
  apps.push(app);
  if (waitListening) await waitFor(() => out.includes('listening on'), { message: 'hello listening' });
  return app;
}
const get = (a: App, path: string) => httpGet('127.0.0.1', a.port, path);

describe('examples/hello', () => {
  it('answers /, /version and /health', async () => {
    const a = await boot();
    expect(await get(a, '/')).toMatchObject({ status: 200, body: 'hello from v9\n' });
    const v = await get(a, '/version');
    expect(JSON.parse(v.body)).toEqual({ version: 'v9', pid: a.child.pid, inFlight: 0 });
    expect((await get(a, '/health')).status).toBe(200);
    expect((await get(a, '/nope')).status).toBe(404);
  });

  it('fails /health with HEALTH=fail and / with FAIL_RATE=1', async () => {
    const a = await boot({ HEALTH: 'fail', FAIL_RATE: '1' });
    expect((await get(a, '/health')).status).toBe(500);
    expect((await get(a, '/')).status).toBe(500);
    expect((await get(a, '/version')).status).toBe(200);
  });

  it('delays with /slow?ms= and SLOW_MS', async () => {
    const a = await boot({ SLOW_MS: '150' });
    let t0 = Date.now();
    expect((await get(a, '/slow?ms=200')).body).toContain('slow 200ms');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    t0 = Date.now();
    await get(a, '/');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('with /slow?ms=N&head sends the head at once and the body after N ms', async () => {
    const a = await boot();
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${a.port}/slow?ms=400&head`);
    const headAt = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('slow 400ms from v9\n');
    const bodyAt = Date.now() - t0;
    expect(headAt).toBeLessThan(bodyAt);
    expect(bodyAt).toBeGreaterThanOrEqual(390);
  });

  it('waits BOOT_DELAY_MS before listening', async () => {
    const a = await boot({ BOOT_DELAY_MS: '300' }, false);
    await expect(get(a, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await waitFor(() => get(a, '/'));
  });

  it('exits 1 at once with CRASH_ON_BOOT=1, saying why on stderr', async () => {
    const a = await boot({ CRASH_ON_BOOT: '1' }, false);
    expect((await a.exited)[0]).toBe(1);
    expect(a.err()).toContain('CRASH_ON_BOOT');
  });

  it('echoes WebSocket messages prefixed with its version', async () => {
    const a = await boot();
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/ws`);
    await once(ws, 'open');
    ws.send('ping');
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('v9: ping');
    ws.close();
    await once(ws, 'close');
  });

  it('on SIGTERM finishes in-flight requests, refuses new ones and exits 0', async () => {
    const a = await boot();
    const slow = get(a, '/slow?ms=500');
    await waitFor(async () => JSON.parse((await get(a, '/version')).body).inFlight === 1);
    a.child.kill('SIGTERM');
    await waitFor(() => a.out().includes('SIGTERM: stopping'));
    await expect(get(a, '/')).rejects.toThrow();
    expect(await slow).toMatchObject({ status: 200 });
    expect(await a.exited).toEqual([0, null]);
    expect(a.out()).toMatch(/stopped/);
  });

  it('on SIGTERM keeps open WebSockets until they close', async () => {
    const a = await boot();
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/ws`);
    await once(ws, 'open');
    a.child.kill('SIGTERM');
    await waitFor(() => a.out().includes('1 websocket(s) open'));
    ws.send('still here');
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('v9: still here');
    expect(a.child.exitCode).toBeNull();
    ws.close();
    expect(await a.exited).toEqual([0, null]);
  });
});
