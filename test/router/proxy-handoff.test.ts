import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyRouter } from '../../src/router/proxy/client.js';
import { upgradeProxy } from '../../src/router/proxy/handoff/client.js';
import type { HandoffStep } from '../../src/router/proxy/handoff/predecessor.js';
import { ensureProxy, stopProxy } from '../../src/router/proxy/launch.js';
import type { RouteStatus } from '../../src/router/router.js';
import { isAlive } from '../../src/runtime/process/proc.js';
import { requireBuilt } from '../helpers/services.js';
import { makePki } from '../helpers/tls.js';
import { backwards, counters, failed, redirectOf } from './handoff-checks.js';
import { handoffBackend, proxyTrees, startTraffic, type TrafficReport } from './handoff-traffic.js';
import { freePort, tempDir, waitFor } from './helpers.js';

const ENTRY = new URL('../../dist/router/proxy/main.js', import.meta.url).pathname;
const WORKER = new URL('../../dist/router/proxy/worker.js', import.meta.url).pathname;
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/**
 * Rate and number of handoffs: the CI tier runs 3 handoffs at 150 req/s (a shared 2-core host); the slow
 * tier (test/slow/proxy-handoff-500.test.ts) runs the 10 at 500 req/s.
 */
const RPS = Number(process.env.BATON_HANDOFF_RPS ?? 150);
const HANDOFFS = Number(process.env.BATON_HANDOFF_COUNT ?? 3);
const TLS_RPS = Math.max(10, Math.round(RPS / 5));

/** What must survive a handoff: routes, listeners, backends with weights and states, certificates. */
const shape = (routes: RouteStatus[]) =>
  routes.map((r) => ({
    service: r.service,
    listen: r.listen,
    certificates: (r.certificates ?? []).map((c) => c.file),
    backends: r.backends.map((b) => ({ id: b.id, address: b.address, weight: b.weight, state: b.state })),
  }));

describe.runIf(requireBuilt(ENTRY, WORKER, CLI))(
  'proxy handoff over shared listeners (real processes, under load)',
  () => {
    let dir = '';
    let removeDir: () => Promise<void> = async () => {};
    let router: ProxyRouter;
    let plain = 0;
    let secure = 0;
    let http = 0;
    let ca: Buffer;
    let expected: ReturnType<typeof shape>;
    const closers: Array<() => Promise<void>> = [];
    /** Every proxy process this file saw (primaries, successors, workers): each is stopped by pid at the end. */
    const seen = new Set<number>();
    const note = (): void => {
      for (const t of proxyTrees(dir)) {
        seen.add(t.pid);
        for (const w of t.workers) seen.add(w);
      }
    };

    /** Exactly one proxy tree serves `dir`, with 2 workers, and none of `gone` is alive. */
    const oneTree = (gone: number[]): boolean => {
      note();
      const trees = proxyTrees(dir);
      return trees.length === 1 && trees[0]!.workers.length === 2 && gone.every((p) => !isAlive(p));
    };

    /** The proxy answers as before: routes, weights and certificates, the redirect of the HTTP listener. */
    const intact = async (): Promise<void> => {
      expect(shape(await router.list())).toEqual(expected);
      expect(await redirectOf(http)).toBe(`https://localhost:${secure}/x`);
    };

    const traffic = (slow: number, sockets: number) =>
      startTraffic(plain, {
        rps: RPS,
        slow,
        sockets,
        tls: { port: secure, rps: TLS_RPS, host: 'localhost', ca },
        h2: { port: secure, rps: TLS_RPS, host: 'localhost', ca },
      });

    beforeAll(async () => {
      const tmp = await tempDir();
      dir = tmp.dir;
      removeDir = tmp.remove;
      const pki = makePki(dir);
      ca = readFileSync(pki.ca);
      const a = await handoffBackend('a');
      const b = await handoffBackend('b');
      closers.push(a.close, b.close);
      await ensureProxy(dir, { entry: ENTRY, workers: 2 });
      note();
      router = new ProxyRouter({ dataDir: dir });
      [plain, secure, http] = [await freePort(), await freePort(), await freePort()];
      const backends = [
        { id: 'a', address: a.address, revision: 1, weight: 3 },
        { id: 'b', address: b.address, revision: 1, weight: 1 },
      ];
      await router.ensureRoute({ service: 'web', listen: `127.0.0.1:${plain}`, drainTimeoutMs: 30_000 });
      await router.addBackends('web', backends);
      await router.ensureRoute({
        service: 'secure',
        listen: `127.0.0.1:${secure}`,
        hosts: ['localhost'],
        tls: [{ cert: pki.cert, key: pki.key }],
        redirectHttp: true,
        drainTimeoutMs: 30_000,
      });
      await router.addBackends('secure', backends);
      await router.setHttpListen(`127.0.0.1:${http}`);
      expected = shape(await router.list());
      expect(expected[1]!.certificates).toEqual([pki.cert]);
    });

    afterAll(async () => {
      note();
      await stopProxy(dir).catch(() => false);
      // Successors, orphaned workers: whatever is left of what this file started, by pid.
      note();
      const left = [...seen].filter((p) => isAlive(p));
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      if (left.length > 0)
        console.log(`stopped ${left.length} proxy processes left running: ${left.join(', ')}`);
      for (const c of closers) await c();
      await removeDir();
    });

    it(`${HANDOFFS} handoffs in a row under ${RPS} req/s plain + ${TLS_RPS} req/s TLS, 2 s requests, 20 WebSockets: nothing fails, counters never go backwards`, async () => {
      const t0 = traffic(8, 20);
      let before = await counters(dir);
      const pids: number[] = [];
      const stepsSeen: string[] = [];
      let t: TrafficReport | undefined;
      try {
        await waitFor(() => t0.ws.opened >= 20 && t0.slow.ok >= 8, 'traffic to flow', 30_000);
        for (let i = 0; i < HANDOFFS; i++) {
          const h = await router.health();
          const old = [h.pid, ...(h.workers ?? [])];
          const open = () => t0.ws.opened - t0.ws.closedByClient - t0.ws.cut;
          await waitFor(() => open() >= 10, 'WebSockets open at the handoff', 30_000);
          const steps: string[] = [];
          const r = await upgradeProxy(dir, { entry: ENTRY, waitOld: true }, (s) => steps.push(s.step));
          stepsSeen.push(steps.join());
          pids.push(r.pid);
          expect(r.pid).not.toBe(h.pid);
          await waitFor(() => oneTree(old), `one proxy tree after handoff ${i + 1}`, 30_000);
          expect(proxyTrees(dir)[0]!.pid).toBe(r.pid);
          await intact();
          const after = await counters(dir);
          expect(backwards(before, after)).toEqual([]);
          before = after;
        }
      } finally {
        t = await t0.stop();
        console.log(
          `${HANDOFFS} handoffs: plain ${t.load.sent} requests at ${t.load.rps.toFixed(0)} req/s (keep-alive ${t.load.kinds.keepAlive.sent}, new connections ${t.load.kinds.newConnection.sent}), ${t.load.failed} failed; ` +
            `TLS ${t.tls?.sent} requests at ${t.tls?.rps.toFixed(0)} req/s, ${t.tls?.failed} failed; ` +
            `HTTP/2 ${t.h2?.sent} streams on ${t.h2?.sessions} sessions, ${t.h2?.failed} failed (${t.h2?.refusedAndRetried} refused after GOAWAY and sent again); ` +
            `2 s requests ${t.slow.ok} ok, ${t.slow.failed} failed; WebSockets ${t.ws.opened} opened, ${t.ws.closedByClient} closed by the client, ${t.ws.cut} cut, ${t.ws.missedEchoes} echoes missed`,
        );
      }
      expect(t.load.errors).toEqual([]);
      expect(t.tls?.errors).toEqual([]);
      expect(t.h2?.errors).toEqual([]);
      // Each handoff moved the HTTP/2 client to a new session (GOAWAY from the retiring proxy).
      expect(t.h2!.sessions).toBeGreaterThan(HANDOFFS);
      expect(t.slow.errors).toEqual([]);
      expect(t.ws.errors).toEqual([]);
      expect(failed(t)).toBe(0);
      expect(t.ws.missedEchoes).toBe(0);
      expect(new Set(pids).size).toBe(HANDOFFS);
      expect(stepsSeen.every((s) => s === 'spawned,ready,committed,draining')).toBe(true);
      // Counted through the handoffs: the connections and TLS handshakes of the doors.
      const c = await counters(dir);
      expect(
        c.get(`baton_proxy_tls_handshakes_total{listener="127.0.0.1:${secure}",role="main"}`),
      ).toBeGreaterThan(0);
    }, 600_000);

    it('a broken new build (exits at start; cannot read the snapshot): the old proxy keeps serving, exit 1 with the reason', async () => {
      const h = await router.health();
      const t0 = traffic(4, 5);
      let t: TrafficReport | undefined;
      try {
        await waitFor(() => t0.ws.opened >= 5, 'traffic to flow', 30_000);
        const broken = join(dir, 'broken-main.js');
        await writeFile(broken, "process.stderr.write('this build is broken\\n');\nprocess.exit(3);\n");
        const cli = spawnSync(
          process.execPath,
          [CLI, '--data-dir', dir, 'proxy', 'upgrade', '--entry', broken],
          {
            encoding: 'utf8',
          },
        );
        expect(cli.status).toBe(1);
        expect(cli.stderr).toContain('exited with code 3 before it was ready');
        expect(cli.stderr).toContain('this build is broken');
        expect(cli.stderr).toContain(`the running proxy (pid ${h.pid}) keeps serving`);

        // The same Baton, but the snapshot it must load is unreadable: it refuses rather than serve nothing.
        const state = join(dir, 'proxy', 'state.json');
        const good = readFileSync(state, 'utf8');
        await writeFile(state, '{ not json');
        const err = await upgradeProxy(dir, { entry: ENTRY }, (s) => {
          if (s.step === 'spawned') seen.add(s.pid);
        }).catch((e: Error) => e);
        await writeFile(state, good);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toContain('cannot read snapshot');
        expect((await router.health()).pid).toBe(h.pid);
        await waitFor(() => oneTree([]), 'the failed successors gone', 30_000);
        expect(proxyTrees(dir)[0]!.pid).toBe(h.pid);
        // The old proxy still takes changes (and writes its snapshot).
        await router.setHealthy('web', 'b', true);
        await intact();
      } finally {
        t = await t0.stop();
        console.log(
          `broken builds: ${t.load.sent + (t.tls?.sent ?? 0)} requests, ${failed(t)} failed; WebSockets ${t.ws.opened} opened, ${t.ws.cut} cut`,
        );
      }
      expect(failed(t)).toBe(0);
    }, 120_000);

    it('SIGKILL of the old or the new proxy right after each step: one proxy tree serves, state intact, 0 failed once the new one accepts', async () => {
      const every: Array<{ step: HandoffStep['step']; victim: 'old' | 'new' }> = [
        { step: 'spawned', victim: 'new' },
        { step: 'spawned', victim: 'old' },
        { step: 'ready', victim: 'new' },
        { step: 'ready', victim: 'old' },
        { step: 'committed', victim: 'new' },
        { step: 'committed', victim: 'old' },
        { step: 'draining', victim: 'new' },
        { step: 'draining', victim: 'old' },
      ];
      // Every step on every run, its victim alternating by step and by UTC day (so both victims of every
      // step within two days, and half the suite time); BATON_HANDOFF_KILL_POINTS=all runs all eight,
      // BATON_HANDOFF_KILL_POINTS=committed:new,draining:new only those.
      const env = process.env.BATON_HANDOFF_KILL_POINTS;
      const day = Math.floor(Date.now() / 86_400_000) % 2;
      const only = env && env !== 'all' ? env.split(',') : undefined;
      const points = every.filter((p, i) =>
        only
          ? only.includes(`${p.step}:${p.victim}`)
          : env === 'all' || i % 2 === (Math.floor(i / 2) + day) % 2,
      );
      const results: string[] = [];
      const failures: string[] = [];
      for (const point of points) {
        const h = await router.health();
        const oldTree = [h.pid, ...(h.workers ?? [])];
        const t0 = traffic(4, 10);
        let t: TrafficReport | undefined;
        try {
          await waitFor(() => t0.ws.opened >= 10, 'traffic to flow', 30_000);
          let successor = 0;
          let successorWorkers: number[] = [];
          // The proxy kills itself or its successor right after the step (HandoffRequest.killAt).
          const killAt = `${point.step}:${point.victim}`;
          const outcome = await upgradeProxy(dir, { entry: ENTRY, killAt }, (s) => {
            if (s.step === 'spawned') {
              successor = s.pid;
              seen.add(s.pid);
            }
            if (s.step === 'ready') successorWorkers = s.workers;
          }).then(
            () => 'upgrade returned',
            (e: Error) => `upgrade failed: ${e.message.split('\n')[0]}`,
          );
          for (const w of successorWorkers) seen.add(w);
          // The killed side's tree is gone (its orphaned workers finish what they carry, then exit).
          const gone = point.victim === 'old' ? oldTree : [successor, ...successorWorkers];
          await waitFor(
            () => oneTree(gone),
            `one proxy tree after killing the ${point.victim} at ${point.step}`,
            60_000,
          );
          await waitFor(
            async () => (await router.health().catch(() => undefined)) !== undefined,
            'admin',
            15_000,
          );
          await intact();
          if (point.victim === 'new' && (point.step === 'committed' || point.step === 'draining')) {
            // The old proxy replaced the dead successor by one of its own build, with the same sockets.
            const serving = proxyTrees(dir)[0]!.pid;
            expect([h.pid, successor]).not.toContain(serving);
            expect(readFileSync(join(dir, 'proxy', 'proxy.log'), 'utf8')).toContain(
              `"successor":${serving},"msg":"handoff resumed: a new proxy serves again"`,
            );
          }
          // Traffic flows again before the figures are taken.
          const sent = t0.load.report.ok;
          await waitFor(() => t0.load.report.ok > sent + 50, 'traffic through the proxy again', 30_000);
          t = await t0.stop();
          const n = failed(t);
          results.push(
            `kill ${point.victim} at ${point.step}: ${outcome}; ${n} failed (plain ${t.load.failed}/${t.load.sent}, TLS ${t.tls?.failed}/${t.tls?.sent}, HTTP/2 ${t.h2?.failed}/${t.h2?.sent}, ` +
              `2 s ${t.slow.failed}/${t.slow.ok + t.slow.failed}, WebSockets cut ${t.ws.cut}/${t.ws.opened})`,
          );
          console.log(results.at(-1));
          // The new proxy accepts from `ready` on: every kill point from there must cost nothing.
          if (n > 0) {
            // What the proxies said meanwhile (warnings and errors), for the report.
            const said = readFileSync(join(dir, 'proxy', 'proxy.log'), 'utf8')
              .split('\n')
              .filter((l) => /"level":(40|50|60)/.test(l))
              .slice(-8);
            console.log(said.join('\n'));
          }
          if (point.step !== 'spawned' && n > 0)
            failures.push(
              `${results.at(-1)}: ${[...t.load.errors, ...(t.tls?.errors ?? []), ...(t.h2?.errors ?? []), ...t.slow.errors, ...t.ws.errors].slice(0, 3).join('; ')}`,
            );
        } finally {
          if (!t) await t0.stop();
        }
      }
      expect(failures).toEqual([]);
    }, 900_000);
  },
);
