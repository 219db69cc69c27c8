import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reloadCheck } from '../../src/router/haproxy/reload-checks.js';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { adminOf, parseServersState, SLOT_PREFIX } from '../../src/router/haproxy/slots.js';
import { runBatch } from '../../src/router/haproxy/socket.js';
import { parseServerStats } from '../../src/router/haproxy/stat.js';
import { type HaproxyInstance, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { type LoadReport, startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';
import { freePort, startBackend, type TestBackend, tempDir } from './helpers.js';

const S = 'web';

/**
 * Issue 16's must-show: HAProxy reloaded (SIGUSR2 to the master) and restarted (stop, start) under
 * 200 req/s — fast and 2 s requests, keep-alive and new connections — loses no request, because the new
 * process loads the servers from the server-state file Baton keeps current. No `reconcile()` runs here:
 * the file alone must carry them.
 */
describe.skipIf(!requireHaproxy())('haproxy reloads and restarts under load', () => {
  let h: HaproxyInstance;
  let r: HaproxyRouter;
  let state: { dir: string; remove: () => Promise<void> };
  const apps: TestBackend[] = [];

  beforeAll(async () => {
    for (const name of ['a1', 'a2', 'c'])
      apps.push(
        await startBackend(name, (req, res, b) => {
          req.resume();
          const ms = req.url?.startsWith('/slow') ? 2000 : 0;
          setTimeout(() => res.end(b.name), ms);
        }),
      );
    h = await startHaproxy({ slots: 8 });
    state = await tempDir();
    r = new HaproxyRouter({
      sockets: [h.socket],
      stateDir: state.dir,
      serverStateFile: h.serverStateFile,
      removeTimeoutMs: 5000,
    });
    await r.ensureRoute({ service: S, listen: `127.0.0.1:${await freePort()}`, drainTimeoutMs: 5000 });
  }, 30_000);

  afterAll(async () => {
    await r?.close();
    await h?.stop();
    await state?.remove();
    await Promise.all(apps.map((a) => a.close()));
  });

  /**
   * The slots carrying Baton's servers as HAProxy has them: address, admin state, weight and status, by
   * slot name (a slot freed by a removal keeps its last address in MAINT until the next reload).
   */
  async function servers(): Promise<Record<string, string>> {
    const [text, csv] = await runBatch(h.socket, [`show servers state ${S}`, `show stat ${S} 4 -1`]);
    const stats = parseServerStats(csv ?? '', S);
    const mine = new Set((await r.status(S))?.backends.map((b) => b.address));
    const out: Record<string, string> = {};
    for (const s of parseServersState(text ?? ''))
      if (s.name.startsWith(SLOT_PREFIX) && mine.has(`${s.addr}:${s.port}`)) {
        // "UP 1/3": up, HAProxy's own checks counting (a slow check on a loaded machine); the state is UP.
        const status = stats.get(s.name)?.status.replace(/ \d+\/\d+$/, '');
        out[s.name] = `${s.addr}:${s.port} ${adminOf(s)} w${s.uweight} ${status}`;
      }
    return out;
  }

  /** 160 req/s of fast requests and 40 req/s of 2 s ones, each half keep-alive, half new connections. */
  const load = () => [startLoad(h.url, { rps: 160 }), startLoad(h.url, { rps: 40, path: '/slow', pool: 64 })];
  const expectNoFailure = (reports: LoadReport[]) => {
    for (const rep of reports) {
      expect(rep.errors, rep.errors.join('; ')).toEqual([]);
      expect(rep.failed).toBe(0);
      expect(rep.ok).toBeGreaterThan(0);
    }
  };

  /** Reloads and checks HAProxy's view of Baton's servers is the same before and after. */
  async function reloadKeeps(): Promise<Record<string, string>> {
    const before = await servers();
    await h.reload();
    expect(await servers()).toEqual(before);
    return before;
  }

  it('5 reloads in steady state, one during a drain, one during a 20 % canary: 0 failed requests; servers, weights and states unchanged', async () => {
    const [a1, a2, c] = apps as [TestBackend, TestBackend, TestBackend];
    await r.addBackends(S, [
      { id: 'a1', address: a1.address, revision: 1 },
      { id: 'a2', address: a2.address, revision: 1, weight: 3 },
    ]);
    const loads = load();
    try {
      for (let i = 0; i < 5; i++) {
        const seen = await reloadKeeps();
        expect(Object.values(seen).sort()).toEqual(
          [`127.0.0.1:${a1.port} ready w1 UP`, `127.0.0.1:${a2.port} ready w3 UP`].sort(),
        );
      }
      // A drain in progress: a2 has 2 s requests in flight while HAProxy reloads.
      await r.drain(S, ['a2']);
      const waiting = r.waitDrained(S, ['a2'], 10_000);
      expect(Object.values(await reloadKeeps())).toContain(`127.0.0.1:${a2.port} drain w3 DRAIN`);
      expect((await waiting).drained).toBe(true);
      await r.removeBackends(S, ['a2']);
      // A canary at 20 %: its weights are HAProxy weights, and so is what a new process starts with.
      await r.addBackends(S, [{ id: 'c', address: c.address, revision: 2 }]);
      await r.setSplit(S, {
        weights: [
          { revision: 1, percent: 80 },
          { revision: 2, percent: 20 },
        ],
        sticky: false,
      });
      expect(Object.values(await reloadKeeps()).sort()).toEqual(
        [`127.0.0.1:${a1.port} ready w256 UP`, `127.0.0.1:${c.port} ready w64 UP`].sort(),
      );
    } finally {
      expectNoFailure(await Promise.all(loads.map((l) => l.stop())));
    }
    expect((await r.reconcile())[0]).toMatchObject({ restored: {} });
  }, 120_000);

  it('after a stop and a start, no request the new HAProxy accepts gets a 503', async () => {
    await r.reconcile();
    const before = await servers();
    // Load across the restart: requests refused or cut while no HAProxy runs are the restart's; a 503
    // would be the new process answering without Baton's servers.
    const statuses = new Map<number, number>();
    let okAfter = 0;
    let upAt = Number.POSITIVE_INFINITY;
    const onResponse = (x: { sentAt: number; status: number }) => {
      statuses.set(x.status, (statuses.get(x.status) ?? 0) + 1);
      if (x.sentAt >= upAt && x.status === 200) okAfter++;
    };
    const loads = [
      startLoad(h.url, { rps: 160, onResponse }),
      startLoad(h.url, { rps: 40, path: '/slow', pool: 64, onResponse }),
    ];
    await new Promise((res) => setTimeout(res, 500));
    await h.restart();
    upAt = performance.now();
    expect((await fetch(`${h.url}/`)).status).toBe(200);
    // 200 requests sent to the new process answered (fast and slow ones), whatever the machine's speed.
    await waitFor(() => okAfter >= 200, { timeoutMs: 30_000, message: '200 answers from the new HAProxy' });
    await Promise.all(loads.map((l) => l.stop()));
    expect(statuses.get(503) ?? 0).toBe(0);
    expect([...statuses.keys()]).toEqual([200]);
    expect(await servers()).toEqual(before);
    // The restart is seen (a new worker) and nothing needed repair.
    expect((await r.reconcile())[0]).toMatchObject({ reloaded: true, restored: {} });
  }, 60_000);

  it('the safety net: a reload that did not load the file (deleted) is repaired by reconcile(), which says what it put back', async () => {
    const before = await servers();
    await rm(h.serverStateFile!);
    await h.reload();
    expect(await servers()).toEqual({});
    const [rep] = await r.reconcile();
    expect(rep).toMatchObject({ reloaded: true, restored: { web: ['a1', 'c'] } });
    // Address, admin state and weight back (HAProxy's checks then count them up again).
    const placed = (m: Record<string, string>) =>
      Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.split(' ').slice(0, 3).join(' ')]));
    expect(placed(await servers())).toEqual(placed(before));
    // ... and the file is written again, for the next reload.
    expect(existsSync(h.serverStateFile!)).toBe(true);
  }, 30_000);

  it('baton doctor: slots and the server-state file HAProxy loads are ok; each missing piece names the line to add', async () => {
    expect(await reloadCheck(h.socket, S, S, h.serverStateFile)).toMatchObject({ status: 'ok' });
    expect(await reloadCheck(h.socket, S, S, undefined)).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/traffic\.router\.serverStateFile/),
    });
    expect(await reloadCheck(h.socket, S, S, '/elsewhere/servers.state')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/server-state-file is .*servers\.state, Baton writes \/elsewhere/),
      fix: 'in global: "server-state-file /elsewhere/servers.state"',
    });
    const plain = await startHaproxy();
    try {
      expect(await reloadCheck(plain.socket, S, S, undefined)).toMatchObject({
        status: 'warn',
        fix: expect.stringMatching(
          /server-template baton-slot 1-32 127\.0\.0\.1:1 disabled.*load-server-state-from-file global/,
        ),
      });
    } finally {
      await plain.stop();
    }
  }, 30_000);
});
