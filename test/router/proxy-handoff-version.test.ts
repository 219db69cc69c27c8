import { spawnSync } from 'node:child_process';
import { cp, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { adoptRunningProxy, upgradeProxy } from '../../src/router/proxy/handoff/client.js';
import { ADMIN_PROTOCOL, PROXY_VERSION } from '../../src/router/proxy/handoff/protocol.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { proxyPaths } from '../../src/router/proxy/paths.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { requireBuilt } from '../helpers/services.js';
import { proxyTrees } from './handoff-traffic.js';
import { freePort, startBackend, tempDir } from './helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ENTRY = join(ROOT, 'dist/router/proxy/main.js');
const CLI = join(ROOT, 'dist/cli/main.js');
const log = { info: () => {}, error: () => {} };

describe.runIf(requireBuilt(ENTRY, CLI))('proxy versions and admin protocol', () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of undo.splice(0).reverse()) await f().catch(() => {});
  });

  it('a proxy speaking another admin protocol is never driven: the error names both versions', async () => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    const paths = proxyPaths(tmp.dir);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(paths.dir, { recursive: true });
    // An admin socket answering /health as a proxy from before protocol 1 did; anything else is noted.
    const calls: string[] = [];
    const old = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, pid: 4242, routes: 3, version: '0.0.7' }));
    });
    await new Promise<void>((r) => old.listen(paths.socket, r));
    undo.push(() => new Promise((r) => old.close(r)));

    const err = await upgradeProxy(tmp.dir, { entry: ENTRY }, () => {}).catch((e: Error) => e);
    expect((err as Error).message).toContain('pid 4242, Baton 0.0.7, admin protocol 0');
    expect((err as Error).message).toContain(`Baton ${PROXY_VERSION}, protocol ${ADMIN_PROTOCOL}`);
    await expect(adoptRunningProxy(tmp.dir, log, ENTRY)).rejects.toThrow('admin protocol 0');
    expect(calls).toEqual(['GET /health', 'GET /health']);
  });

  it('baton serve finding an older proxy hands it over (routes and traffic kept)', async () => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    // The same build, labelled as an older Baton (its package.json says 0.0.1).
    const older = join(tmp.dir, 'older');
    await cp(join(ROOT, 'dist'), join(older, 'dist'), { recursive: true });
    await writeFile(
      join(older, 'package.json'),
      JSON.stringify({ name: 'baton', version: '0.0.1', type: 'module' }),
    );
    await symlink(join(ROOT, 'node_modules'), join(older, 'node_modules'));
    const data = join(tmp.dir, 'data');
    // Every proxy process of this data dir (the old one, successors, their workers) is stopped by pid.
    undo.push(async () => {
      await stopProxy(data);
      for (const t of proxyTrees(data))
        for (const pid of [t.pid, ...t.workers]) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    });
    const started = await ensureProxy(data, { entry: join(older, 'dist/router/proxy/main.js'), workers: 1 });
    const router = new ProxyRouter({ dataDir: data });
    expect((await router.health()).version).toBe('0.0.1');
    const backend = await startBackend('a');
    undo.push(() => backend.close());
    const port = await freePort();
    await router.ensureRoute({ service: 'web', listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    await router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);

    await adoptRunningProxy(data, log, ENTRY);
    const now = await router.health();
    expect(now.version).toBe(PROXY_VERSION);
    expect(now.pid).not.toBe(started.pid);
    expect((await router.list()).map((r) => [r.service, r.listen, r.backends.map((b) => b.id)])).toEqual([
      ['web', `127.0.0.1:${port}`, ['a']],
    ]);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('a');

    // The same version again: nothing to do.
    await adoptRunningProxy(data, log, ENTRY);
    expect((await router.health()).pid).toBe(now.pid);

    // `baton proxy upgrade --json --wait` on demand: the steps as JSON, progress on stderr, the old one gone.
    const cli = spawnSync(
      process.execPath,
      [CLI, '--data-dir', data, 'proxy', 'upgrade', '--json', '--wait'],
      {
        encoding: 'utf8',
      },
    );
    expect(cli.status, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout) as {
      ok: boolean;
      old: { pid: number; exited: boolean };
      new: { pid: number };
      steps: Array<{ step: string }>;
    };
    expect(out.ok).toBe(true);
    expect(out.old).toMatchObject({ pid: now.pid, exited: true });
    expect(out.steps.map((x) => x.step)).toEqual(['spawned', 'ready', 'committed', 'draining']);
    expect(cli.stderr).toContain(`new proxy pid ${out.new.pid} took over the admin socket`);
    expect((await router.health()).pid).toBe(out.new.pid);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('a');
  });
});
