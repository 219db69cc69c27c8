import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_HANDLES, acceptHandlesFromEnv } from '../../src/router/proxy/accept-handles.js';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { upgradeProxy } from '../../src/router/proxy/handoff/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { LISTEN_BACKLOG } from '../../src/router/proxy/limits.js';
import { requireBuilt } from '../helpers/services.js';
import { proxyTrees } from './handoff-traffic.js';
import { freePort, startBackend, type TestBackend, tempDir, waitFor } from './helpers.js';

// libuv accepts one connection per listening handle per event-loop turn, so each proxy worker holds
// ACCEPT_HANDLES descriptors of every listening socket (src/router/proxy/accept-handles.ts). Checked in
// /proc: the descriptors are there, the accept queue keeps its size, they all go with the route, and a
// proxy retired by a handoff keeps none while it finishes its requests (else it would go on accepting
// connections it no longer serves).

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;

/** Inode of the LISTEN socket on 127.0.0.1:port, from /proc/net/tcp. */
function listenInode(port: number): string | undefined {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === hex && f[3] === '0A') return f[9];
  }
  return undefined;
}

/** How many descriptors of socket `inode` process `pid` holds (none once it exited). */
function descriptorsOf(pid: number, inode: string): number {
  let n = 0;
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) n++;
    } catch {}
  }
  return n;
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.runIf(requireBuilt(ENTRY))('proxy workers accept on several handles per listener', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let pid: number;
  let router: ProxyRouter;
  let backend: TestBackend;
  /** Answers of `/slow` requests, held until the test lets them go. */
  const held: Array<() => void> = [];

  beforeAll(async () => {
    tmp = await tempDir();
    ({ pid } = await ensureProxy(tmp.dir, { entry: ENTRY, workers: 2 }));
    router = new ProxyRouter({ dataDir: tmp.dir });
    backend = await startBackend('a', (req, res, b) => {
      req.resume();
      if (req.url === '/slow') held.push(() => res.end('slow'));
      else res.end(b.name);
    });
  }, 60_000);

  afterAll(async () => {
    await router?.close();
    if (tmp) await stopProxy(tmp.dir);
    await backend?.close();
    await tmp?.remove();
  });

  it(`each worker holds ${ACCEPT_HANDLES} descriptors of the socket, the accept queue stays ${LISTEN_BACKLOG}, a burst of new connections is served, and removing the route releases the port`, async () => {
    const port = await freePort();
    await router.ensureRoute({ service: 'web', listen: `127.0.0.1:${port}`, drainTimeoutMs: 500 });
    await router.addBackends('web', [{ id: 'a', address: backend.address, revision: 1 }]);
    const inode = listenInode(port);
    expect(inode, 'the listening socket in /proc/net/tcp').toBeDefined();
    const workers = childrenOf(pid);
    expect(workers).toHaveLength(2);
    // The extra descriptors come a moment after the listener opens (the route does not wait for them).
    await waitFor(
      () => workers.every((w) => descriptorsOf(w, inode!) === ACCEPT_HANDLES),
      `${ACCEPT_HANDLES} descriptors in each worker`,
      10_000,
    );
    // Each listen() on a descriptor sets the queue size again: it must stay the proxy's, not Node's 511.
    const ss = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' })
      .trim()
      .split(/\s+/);
    expect(Number(ss[2])).toBe(LISTEN_BACKLOG);

    // 200 new connections at once, each with one request: every one answered.
    const statuses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const client = new Agent({ pipelining: 0 });
        try {
          const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: client });
          await res.body.dump();
          return res.statusCode;
        } finally {
          await client.close();
        }
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    await router.removeRoute('web');
    await waitFor(() => listenInode(port) === undefined, 'the listening socket to close', 10_000);
    for (const w of workers) expect(descriptorsOf(w, inode!), `worker ${w} after removeRoute`).toBe(0);
    // The port is free again for anyone.
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  }, 120_000);
  it('after a handoff the retired workers hold no descriptor of the socket while they finish a request; the new ones hold theirs', async () => {
    const port = await freePort();
    await router.ensureRoute({ service: 'held', listen: `127.0.0.1:${port}`, drainTimeoutMs: 30_000 });
    await router.addBackends('held', [{ id: 'a', address: backend.address, revision: 1 }]);
    const inode = listenInode(port)!;
    const [before] = proxyTrees(tmp.dir);
    expect(before!.workers).toHaveLength(2);
    // A request in flight keeps the old proxy alive after the handoff.
    const slow = new Promise<string>((resolve, reject) => {
      httpGet(`http://127.0.0.1:${port}/slow`, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      }).on('error', reject);
    });
    await waitFor(() => held.length === 1, 'the slow request to reach the backend', 10_000);
    const r = await upgradeProxy(tmp.dir, { entry: ENTRY }, () => {});
    const after = proxyTrees(tmp.dir).find((t) => t.pid === r.pid)!;
    expect(after.workers).toHaveLength(2);
    await waitFor(
      () => before!.workers.every((w) => descriptorsOf(w, inode) === 0),
      'the retired workers to close every descriptor of the listening socket',
      10_000,
    );
    expect(
      proxyTrees(tmp.dir).some((t) => t.pid === before!.pid),
      'the old proxy still finishing',
    ).toBe(true);
    await waitFor(
      () => after.workers.every((w) => descriptorsOf(w, inode) === ACCEPT_HANDLES),
      `${ACCEPT_HANDLES} descriptors in each new worker`,
      10_000,
    );
    // New connections reach the new proxy; the old one's request completes.
    for (let i = 0; i < 20; i++) {
      const res = await request(`http://127.0.0.1:${port}/`, { reset: true });
      expect(await res.body.text()).toBe('a');
    }
    held.shift()!();
    expect(await slow).toBe('200 slow');
  }, 120_000);

  it('BATON_PROXY_ACCEPT_HANDLES: 1 to 64 (8 when unset); anything else stops the proxy at start with exit 2', () => {
    expect(acceptHandlesFromEnv(undefined)).toBe(8);
    expect(acceptHandlesFromEnv('1')).toBe(1);
    expect(acceptHandlesFromEnv('64')).toBe(64);
    for (const bad of ['0', '65', '2.5', 'many', '-1'])
      expect(acceptHandlesFromEnv(bad), bad).toBeUndefined();
    const run = spawnSync(process.execPath, [ENTRY, '--data-dir', tmp.dir], {
      env: { ...process.env, BATON_PROXY_ACCEPT_HANDLES: 'many' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(
      'BATON_PROXY_ACCEPT_HANDLES must be a whole number from 1 to 64 (got "many")',
    );
  });
});
