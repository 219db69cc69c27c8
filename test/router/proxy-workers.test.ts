import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { get as httpGet, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { requireBuilt } from '../helpers/services.js';
import { freePort, startBackend, type TestBackend, tempDir, waitFor } from './helpers.js';

const S = 'web';
const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
const WORKER = new URL('../../dist/router/proxy/worker.js', import.meta.url).pathname;

/** One request on a new connection: `<status> <body>`. */
function getFresh(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Local ports of the TCP connections process `pid` has open to `remotePort` (from /proc). */
function connectionPorts(pid: number, remotePort: number): Set<number> {
  return sockets(pid, (_local, remote) => remote === remotePort, true);
}

/** Connections process `pid` accepted on `localPort` (from /proc). */
function acceptedOn(pid: number, localPort: number): number {
  return sockets(pid, (local, remote) => local === localPort && remote !== 0, false).size;
}

/** The TCP sockets of `pid` matching `which`, by local port (or by remote port with `byLocal` false). */
function sockets(
  pid: number,
  which: (local: number, remote: number) => boolean,
  byLocal: boolean,
): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !inodes.has(f[9]!)) continue;
    const local = Number.parseInt(f[1]!.split(':')[1]!, 16);
    const remote = Number.parseInt(f[2]!.split(':')[1]!, 16);
    if (which(local, remote)) ports.add(byLocal ? local : remote);
  }
  return ports;
}

describe.runIf(requireBuilt(ENTRY, WORKER))('proxy workers (real processes)', () => {
  const undo: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of undo.splice(0).reverse()) await f();
  });
  const backend = async (...args: Parameters<typeof startBackend>): Promise<TestBackend> => {
    const b = await startBackend(...args);
    undo.push(() => b.close());
    return b;
  };
  /** A proxy process with `workers` workers and one route on a free port. */
  const startProxy = async (workers: number) => {
    const tmp = await tempDir();
    undo.push(tmp.remove);
    undo.push(() => stopProxy(tmp.dir));
    const { pid } = await ensureProxy(tmp.dir, { entry: ENTRY, workers });
    const router = new ProxyRouter({ dataDir: tmp.dir });
    const port = await freePort();
    await router.ensureRoute({ service: S, listen: `127.0.0.1:${port}`, drainTimeoutMs: 1000 });
    const pids = (await router.health()).workers ?? [];
    expect(pids).toHaveLength(workers);
    return { dir: tmp.dir, pid, router, port, pids };
  };
  const inFlight = async (router: ProxyRouter, id: string): Promise<number> =>
    (await router.status(S))?.backends.find((b) => b.id === id)?.inFlight ?? -1;

  it('drain waits for slow requests held by either worker; the sum of in-flight is exact', async () => {
    const held: Array<{ port: number; res: ServerResponse }> = [];
    const slow = await backend('slow', (req, res) => {
      held.push({ port: req.socket.remotePort!, res });
    });
    const quick = await backend('quick');
    const p = await startProxy(2);
    await p.router.addBackends(S, [{ id: 'slow', address: slow.address, revision: 1 }]);

    // Slow requests on new connections until each worker holds at least one (the kernel picks the worker).
    const answers: Array<Promise<string>> = [];
    const byWorker = new Map<number, number[]>();
    for (let i = 0; i < 60 && byWorker.size < 2; i++) {
      answers.push(getFresh(p.port));
      await waitFor(() => held.length === i + 1, 'slow request at the backend');
      byWorker.clear();
      for (const pid of p.pids) {
        const ports = connectionPorts(pid, slow.port);
        const mine = held.filter((h) => ports.has(h.port)).map((h) => h.port);
        if (mine.length > 0) byWorker.set(pid, mine);
      }
    }
    expect(byWorker.size).toBe(2);
    expect(await inFlight(p.router, 'slow')).toBe(held.length);

    await p.router.switchTo(S, ['quick'], [{ id: 'quick', address: quick.address, revision: 2 }]);
    let settled = false;
    const drained = p.router.waitDrained(S, ['slow'], 30_000).then((r) => {
      settled = true;
      return r;
    });
    const [first, second] = [...byWorker.values()] as [number[], number[]];
    const release = (ports: number[]) => {
      for (const h of held) if (ports.includes(h.port)) h.res.end('slow');
    };

    release(first);
    await waitFor(async () => (await inFlight(p.router, 'slow')) === second.length, 'first worker drained');
    expect(await getFresh(p.port)).toBe('200 quick');
    expect(await inFlight(p.router, 'slow')).toBe(second.length);
    expect(settled).toBe(false);

    release(second);
    expect(await drained).toMatchObject({ drained: true, inFlight: 0 });
    expect(await Promise.all(answers)).toEqual(answers.map(() => '200 slow'));
    const st = await p.router.status(S);
    expect(st?.backends.find((b) => b.id === 'slow')?.requests).toBe(held.length);
  });

  it('after switchTo returns, no request sent later reaches the old backend (keep-alive and new connections)', async () => {
    const handler = (name: string) => (req: { resume(): void }, res: ServerResponse) => {
      req.resume();
      res.end(name);
    };
    const a = await backend('a', handler('a'));
    const b = await backend('b', handler('b'));
    const p = await startProxy(2);
    await p.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    const pool = new Agent({ connections: 8 });
    undo.push(() => pool.close());

    type Done = { sentAt: number; doneAt: number; body: string };
    const done: Done[] = [];
    let stop = false;
    const url = `http://127.0.0.1:${p.port}/`;
    const keepAlive = async () => {
      while (!stop) {
        const sentAt = performance.now();
        const res = await request(url, { dispatcher: pool });
        const body = await res.body.text();
        done.push({ sentAt, doneAt: performance.now(), body: `${res.statusCode} ${body}` });
      }
    };
    const fresh = async () => {
      while (!stop) {
        const sentAt = performance.now();
        const body = await getFresh(p.port);
        done.push({ sentAt, doneAt: performance.now(), body });
      }
    };
    const loops = [keepAlive(), keepAlive(), keepAlive(), keepAlive(), fresh(), fresh()];

    // Alternate a → b → a …; each window runs from one switchTo's return to the next switchTo's call.
    const windows: Array<{ from: number; to: number; target: string }> = [];
    await p.router.addBackends(S, [{ id: 'b', address: b.address, revision: 2 }], { standby: true });
    for (let i = 0; i < 6; i++) {
      const target = i % 2 === 0 ? 'b' : 'a';
      const count = done.length;
      await waitFor(() => done.length >= count + 100, 'traffic between switches', 15_000);
      const call = performance.now();
      if (windows.length > 0) windows[windows.length - 1]!.to = call;
      await p.router.switchTo(S, [target]);
      windows.push({ from: performance.now(), to: Number.POSITIVE_INFINITY, target });
    }
    const count = done.length;
    await waitFor(() => done.length >= count + 100, 'traffic after the last switch', 15_000);
    stop = true;
    await Promise.all(loops);

    expect(done.every((d) => d.body === '200 a' || d.body === '200 b')).toBe(true);
    for (const w of windows) {
      // Sent after the switch was acknowledged, answered before the next one was asked for.
      const inside = done.filter((d) => d.sentAt > w.from && d.doneAt < w.to);
      expect(inside.length).toBeGreaterThan(20);
      expect(inside.filter((d) => d.body !== `200 ${w.target}`)).toEqual([]);
    }
  });

  it('a killed worker is replaced and the new one serves the current snapshot; counters never go back', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const p = await startProxy(2);
    await p.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    for (let i = 0; i < 10; i++) expect(await getFresh(p.port)).toBe('200 a');
    // A change after the workers started: the replacements must get it from the snapshot.
    await p.router.switchTo(S, ['b'], [{ id: 'b', address: b.address, revision: 2 }]);
    for (let i = 0; i < 10; i++) expect(await getFresh(p.port)).toBe('200 b');
    const before = await p.router.status(S);
    const requests = (st: typeof before, rev: number) =>
      st?.revisions.find((r) => r.revision === rev)?.requests ?? -1;
    expect(requests(before, 1)).toBe(10);
    expect(requests(before, 2)).toBe(10);

    // Kill both, one after the other: every worker serving afterwards is a replacement.
    let pids = p.pids;
    for (const victim of p.pids) {
      process.kill(victim, 'SIGKILL');
      await waitFor(
        async () => {
          const now = (await p.router.health()).workers ?? [];
          return now.length === 2 && !now.includes(victim);
        },
        'a replacement worker',
        15_000,
      );
      pids = (await p.router.health()).workers ?? [];
    }
    expect(pids.some((x) => p.pids.includes(x))).toBe(false);
    expect(await ensureProxy(p.dir, { entry: ENTRY })).toEqual({ pid: p.pid, started: false });

    const answers = await Promise.all(Array.from({ length: 40 }, () => getFresh(p.port)));
    expect(answers).toEqual(answers.map(() => '200 b'));
    const after = await p.router.status(S);
    expect(after?.backends.map((x) => [x.id, x.state])).toEqual([
      ['a', 'draining'],
      ['b', 'active'],
    ]);
    expect(requests(after, 1)).toBe(10);
    expect(requests(after, 2)).toBe(50);
  });

  it('stopping the proxy stops its workers; a killed primary takes its workers with it', async () => {
    const a = await backend('a');
    const p = await startProxy(2);
    await p.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    expect(await getFresh(p.port)).toBe('200 a');
    expect(p.pids.every((x) => isAlive(x))).toBe(true);
    expect(await stopProxy(p.dir)).toBe(true);
    expect([p.pid, ...p.pids].filter((x) => isAlive(x))).toEqual([]);

    // SIGKILL of the primary: the workers see their IPC channel close, finish what they carry (nothing
    // here) and exit, so the listening socket is free for the next proxy, which serves the route from its
    // snapshot.
    const again = await ensureProxy(p.dir, { entry: ENTRY, workers: 2 });
    const workers = (await p.router.health()).workers ?? [];
    expect(workers).toHaveLength(2);
    expect(await getFresh(p.port)).toBe('200 a');
    process.kill(again.pid, 'SIGKILL');
    await waitFor(() => workers.every((x) => !isAlive(x)), 'workers of the killed primary to exit', 10_000);
    const third = await ensureProxy(p.dir, { entry: ENTRY, workers: 1 });
    expect(third.started).toBe(true);
    expect((await p.router.health()).workers).toHaveLength(1);
    expect(await getFresh(p.port)).toBe('200 a');
  });
  it('hold keeps requests in every worker until serve; a 90/10 split holds across workers', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const p = await startProxy(2);
    await p.router.addBackends(S, [{ id: 'a', address: a.address, revision: 1 }]);
    await p.router.setMode(S, { kind: 'hold', maxMs: 60_000 });
    const held = Array.from({ length: 30 }, () => getFresh(p.port));
    await waitFor(async () => (await p.router.status(S))?.held === 30, 'all 30 requests held');
    expect(a.hits).toBe(0);
    // The kernel spread the 30 connections over both workers; each holds its own.
    const perWorker = p.pids.map((pid) => acceptedOn(pid, p.port));
    expect(perWorker.reduce((x, y) => x + y, 0)).toBe(30);
    expect(
      perWorker.every((n) => n > 0),
      `held per worker: ${perWorker}`,
    ).toBe(true);
    await p.router.setMode(S, { kind: 'serve' });
    expect(await Promise.all(held)).toEqual(held.map(() => '200 a'));
    expect((await p.router.status(S))?.held).toBe(0);

    await p.router.addBackends(S, [{ id: 'b', address: b.address, revision: 2 }]);
    await p.router.setSplit(S, {
      stable: 1,
      canary: 2,
      weights: [
        { revision: 1, percent: 90 },
        { revision: 2, percent: 10 },
      ],
      sticky: false,
    });
    const before = b.hits;
    const answers = [];
    for (let i = 0; i < 20; i++)
      answers.push(...(await Promise.all(Array.from({ length: 20 }, () => getFresh(p.port)))));
    const toB = answers.filter((x) => x === '200 b').length;
    // Each worker follows the weights on its own share: 10% ± 3% of 400.
    expect(toB).toBeGreaterThanOrEqual(28);
    expect(toB).toBeLessThanOrEqual(52);
    expect(b.hits - before).toBe(toB);
    const st = await p.router.status(S);
    expect(st?.revisions.find((r) => r.revision === 2)?.requests).toBe(toB);
  });
});
