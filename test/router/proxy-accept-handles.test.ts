import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_HANDLES } from '../../src/router/proxy/accept-handles.js';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { LISTEN_BACKLOG } from '../../src/router/proxy/limits.js';
import { requireBuilt } from '../helpers/services.js';
import { freePort, startBackend, type TestBackend, tempDir, waitFor } from './helpers.js';

// libuv accepts one connection per listening handle per event-loop turn, so each proxy worker holds
// ACCEPT_HANDLES descriptors of every listening socket (src/router/proxy/accept-handles.ts). Checked in
// /proc: the descriptors are there, the accept queue keeps its size, and they all go with the route.

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

/** How many descriptors of socket `inode` process `pid` holds. */
function descriptorsOf(pid: number, inode: string): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
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

  beforeAll(async () => {
    tmp = await tempDir();
    ({ pid } = await ensureProxy(tmp.dir, { entry: ENTRY, workers: 2 }));
    router = new ProxyRouter({ dataDir: tmp.dir });
    backend = await startBackend('a');
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
    for (const w of workers) expect(descriptorsOf(w, inode!), `worker ${w}`).toBe(ACCEPT_HANDLES);
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
});
