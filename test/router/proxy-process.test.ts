import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createRouter } from '../../src/router/create.js';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { proxyPaths } from '../../src/router/proxy/paths.js';
import { ProxyServer } from '../../src/router/proxy/server.js';
import { requireBuilt } from '../helpers/services.js';
import {
  freePort,
  startBackend,
  startInProcessProxy,
  type TestBackend,
  tempDir,
  waitFor,
} from './helpers.js';

const S = 'web';
const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;

describe('proxy process', () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of undo.splice(0).reverse()) await f();
  });
  const backend = async (name: string): Promise<TestBackend> => {
    const b = await startBackend(name);
    undo.push(() => b.close());
    return b;
  };
  const getText = async (port: number): Promise<string> => {
    const client = new Agent();
    try {
      const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: client });
      return `${res.statusCode} ${await res.body.text()}`;
    } finally {
      await client.close();
    }
  };

  it('restarts from its snapshot with the same routes, backends and states', async () => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    const a = await backend('a');
    const b = await backend('b');
    const port = await freePort();
    let p = await startInProcessProxy(tmp.dir);
    await p.router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    await p.router.addBackends(S, [
      { id: 'a', address: a.address, revision: 1 },
      { id: 'b', address: b.address, revision: 2, weight: 3 },
    ]);
    await p.router.switchTo(S, ['b']);
    await p.router.setHealthy(S, 'a', false);
    const snap = JSON.parse(await readFile(proxyPaths(tmp.dir).state, 'utf8'));
    expect(snap.routes[0].backends).toHaveLength(2);
    expect(await readFile(proxyPaths(tmp.dir).pid, 'utf8')).toBe(`${process.pid}\n`);
    await p.cleanup();
    expect(existsSync(proxyPaths(tmp.dir).socket)).toBe(false);

    p = await startInProcessProxy(tmp.dir);
    undo.push(p.cleanup);
    const st = await p.router.status(S);
    expect(st?.listen).toBe(`127.0.0.1:${port}`);
    expect(st?.backends.map((x) => [x.id, x.state, x.healthy, x.weight])).toEqual([
      ['a', 'draining', false, 1],
      ['b', 'active', true, 3],
    ]);
    expect(await getText(port)).toBe('200 b');
  });

  it('closing lets in-flight requests finish, then removes its socket and pid files', async () => {
    let release: (() => void) | undefined;
    const slow = await startBackend('slow', (_req, res) => {
      release = () => res.end('slow');
    });
    undo.push(() => slow.close());
    const p = await startInProcessProxy();
    const port = await freePort();
    await p.router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    await p.router.addBackends(S, [{ id: 's', address: slow.address, revision: 1 }]);
    const pending = getText(port);
    await waitFor(() => release !== undefined, 'request at the backend');
    let closed = false;
    undo.push(p.cleanup);
    const closing = p.server.close().then(() => {
      closed = true;
    });
    await waitFor(async () => !existsSync(proxyPaths(p.dir).socket) || closed, 'admin socket closed');
    expect(closed).toBe(false);
    release!();
    expect(await pending).toBe('200 slow');
    await closing;
    expect(existsSync(proxyPaths(p.dir).pid)).toBe(false);
    expect(existsSync(proxyPaths(p.dir).state)).toBe(true);
  });

  it('refuses to start next to a live proxy on the same data dir', async () => {
    const p = await startInProcessProxy();
    undo.push(p.cleanup);
    await expect(ProxyServer.start({ dataDir: p.dir })).rejects.toThrow(/already running/);
    expect((await p.router.health()).pid).toBe(process.pid);
  });

  it('reports a listen address taken by another process clearly', async () => {
    const p = await startInProcessProxy();
    undo.push(p.cleanup);
    const other = await backend('other');
    await expect(
      p.router.ensureRoute({ service: S, listen: other.address, drainTimeoutMs: 1000 }),
    ).rejects.toMatchObject({
      code: 'DRIVER',
      message: expect.stringMatching(/already in use by another process/),
    });
  });

  it('ProxyRouter says the proxy is not running when nothing answers', async () => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    const r = createRouter('proxy', { dataDir: tmp.dir });
    expect(r.kind).toBe('proxy');
    await expect(r.status(S)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/not running/),
    });
    expect(() => createRouter('nope', { dataDir: tmp.dir })).toThrow(/unknown router kind/);
  });

  it.runIf(requireBuilt(ENTRY))(
    'runs as its own process: ensureProxy, serve, survive its caller, stopProxy',
    async () => {
      const tmp = await tempDir();
      undo.push(tmp.remove);
      undo.push(() => stopProxy(tmp.dir));
      // Started by a short-lived process (as the CLI or control plane would); the proxy outlives it.
      const launcher = new URL('../../dist/router/proxy/launch.js', import.meta.url).href;
      const script = `const { ensureProxy } = await import(${JSON.stringify(launcher)});
      process.stdout.write(JSON.stringify(await ensureProxy(${JSON.stringify(tmp.dir)})));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      const started = JSON.parse(out) as { pid: number; started: boolean };
      expect(started.started).toBe(true);
      expect(started.pid).not.toBe(process.pid);
      expect(await ensureProxy(tmp.dir, { entry: ENTRY })).toEqual({ pid: started.pid, started: false });

      const a = await backend('a');
      const port = await freePort();
      const router = new ProxyRouter({ dataDir: tmp.dir });
      await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
      await router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
      expect(await getText(port)).toBe('200 a');
      expect(await readFile(proxyPaths(tmp.dir).pid, 'utf8')).toBe(`${started.pid}\n`);

      expect(await stopProxy(tmp.dir)).toBe(true);
      await expect(router.status(S)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const log = await readFile(proxyPaths(tmp.dir).log, 'utf8');
      expect(log).toMatch(/"msg":"proxy stopped"/);

      // Started again, it serves the route from its snapshot.
      const again = await ensureProxy(tmp.dir, { entry: ENTRY });
      expect(again.started).toBe(true);
      expect(await getText(port)).toBe('200 a');
    },
  );
});
