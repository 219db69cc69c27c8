import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/router/haproxy/socket.js';
import { parseServerStats } from '../../src/router/haproxy/stat.js';
import {
  type ClusterFixture,
  type ClusterStatusJson,
  converged,
  maxConcurrentUpdates,
  startClusterFixture,
} from '../agent/cluster-harness.js';
import type { HistoryJson } from '../helpers/baton.js';
import { type HaproxyInstance, requireHaproxy, startHaproxy } from '../helpers/haproxy.js';
import { type LoadReport, startLoad } from '../helpers/load.js';
import { requireNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const ok = requireNats() && requireHaproxy();
const RECONCILE_MS = 1000;
// The lease outlives the slowest update on a loaded machine (docs/cluster.md: lease expiry).
const CLUSTER = 'cluster:\n  updateGovernor: { name: hap-up, capacity: 1, expiry: 60s }';

/** Baton's servers (`baton-…`) in backend `web` of one HAProxy. */
async function servers(h: HaproxyInstance): Promise<string[]> {
  const [csv] = await runBatch(h.socket, ['show stat web 4 -1']);
  return [...parseServerStats(csv ?? '', 'web').keys()].filter((n) => n.startsWith('baton-')).sort();
}

/** The registered instances as HAProxy server names, from `status --cluster` (optionally of some nodes). */
function registered(s: ClusterStatusJson, nodes?: string[]): string[] {
  return s.services[0]!.nodes.filter((n) => !nodes || nodes.includes(n.node))
    .flatMap((n) => n.slots.filter((x) => x.registered && x.instance).map((x) => `baton-${x.instance}`))
    .sort();
}

function expectNoFailure(reports: LoadReport[]): void {
  for (const rep of reports) {
    expect(rep.failed, rep.errors.join('\n')).toBe(0);
    expect(rep.ok).toBeGreaterThan(0);
  }
}

/**
 * Cluster mode with HAProxy as the router: one HAProxy per node, each driven by its node's agent through
 * its own stats socket (`{node}` in the socket path, expanded by every agent), following the registry.
 */
describe.skipIf(!ok)('cluster: every node’s agent drives its own HAProxy', () => {
  let f: ClusterFixture;
  const haproxies: HaproxyInstance[] = [];
  const deploy = (version: string) =>
    f.deploy({
      version,
      replicas: 2,
      router: `{ kind: haproxy, sockets: ["${join(f.dir, 'hap-{node}.sock')}"], backend: web, reconcileInterval: ${RECONCILE_MS}ms, serverOptions: "check inter 200ms fall 2 rise 1" }`,
      extra: CLUSTER,
    });
  const history = async (): Promise<HistoryJson> => {
    const r = await f.cli(['history', 'hello', '--cluster', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return JSON.parse(r.stdout) as HistoryJson;
  };
  const statusOf = (h: HistoryJson, n: number) => h.revisions.find((r) => r.number === n)?.status;
  /** Waits until HAProxy `i` has exactly the registered servers (of `nodes`, default all). */
  const settles = (i: number, nodes?: string[]) =>
    waitFor(
      async () => {
        const want = registered(await f.status(), nodes);
        const have = await servers(haproxies[i]!);
        return want.length > 0 && JSON.stringify(want) === JSON.stringify(have) ? have : undefined;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 500,
        message: `haproxy of n${i + 1} has exactly the registered servers`,
      },
    );

  beforeAll(async () => {
    f = await startClusterFixture({ nodes: 3 });
    for (const a of f.agents)
      haproxies.push(await startHaproxy({ socket: join(f.dir, `hap-${a.node}.sock`) }));
  }, 90_000);
  afterAll(async () => {
    await f?.close();
    await Promise.all(haproxies.map((h) => h.stop()));
  }, 60_000);

  it('first deploy: each HAProxy gets all 6 instances cluster-wide; history shows r1 active', async () => {
    const r = await deploy('v1');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => converged(await f.status(), 1, 3, 2), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'every node runs 2 healthy instances of r1',
    });
    for (let i = 0; i < 3; i++) expect(await settles(i)).toHaveLength(6);
    for (const h of haproxies) expect((await (await fetch(`${h.url}/`)).text()).trim()).toBe('hello from v1');
    const h = await waitFor(async () => ((await history()).current === 1 ? history() : undefined), {
      timeoutMs: 20_000,
      message: 'the convergence on r1 is recorded',
    });
    expect(statusOf(h, 1)).toBe('active');
  }, 120_000);

  it('rolling update under load through every HAProxy: 0 failed; exactly the r2 servers left; r1 superseded', async () => {
    const before = f.events().length;
    const loads = haproxies.map((h) => startLoad(h.url, { rps: 40 }));
    try {
      const r = await deploy('v2');
      expect(r.code, r.stderr + r.stdout).toBe(0);
      await waitFor(async () => converged(await f.status(), 2, 3, 2), {
        timeoutMs: 90_000,
        intervalMs: 200,
        message: 'every node runs 2 healthy instances of r2',
      });
      for (let i = 0; i < 3; i++) await settles(i);
    } finally {
      const reports = await Promise.all(loads.map((l) => l.stop()));
      expectNoFailure(reports);
      expect(reports.every((rep) => rep.bodies.has('hello from v2'))).toBe(true);
    }
    const s = await f.status();
    const r2 = registered(s);
    expect(r2).toHaveLength(6);
    expect(r2.every((n) => n.endsWith('-r2'))).toBe(true);
    for (const h of haproxies) expect(await servers(h)).toEqual(r2);
    const events = f.events().slice(before);
    expect(events.filter((e) => e.type === 'update.end')).toHaveLength(6);
    expect(maxConcurrentUpdates(events)).toBe(1);
    expect(events.filter((e) => e.type === 'lease.overrun')).toEqual([]);
    // Exactly one agent recorded the convergence: r2 active, r1 superseded.
    const h = await waitFor(async () => ((await history()).current === 2 ? history() : undefined), {
      timeoutMs: 20_000,
      message: 'the convergence on r2 is recorded',
    });
    expect(statusOf(h, 2)).toBe('active');
    expect(statusOf(h, 1)).toBe('superseded');
    expect(f.events().filter((e) => e.type === 'converged' && e.revision === 2)).toHaveLength(1);
  }, 180_000);

  it('governor add/set refuse a lease expiry shorter than the probe window of a service using it', async () => {
    // hello's probe.startTimeout is 10 s: a 5 s lease could expire while a new instance starts.
    for (const args of [
      ['governor', 'set', 'hap-up', '--expiry', '5s'],
      ['governor', 'add', 'hap-up', '1', '5s'],
    ]) {
      const r = await f.cli(args);
      expect(r.code, r.stderr + r.stdout).toBe(2);
      expect(r.stderr).toMatch(/expiry 5s is shorter than the probe window of service hello/);
    }
    const g = await f.cli(['governor', 'list', 'hap-up', '--json']);
    expect(JSON.parse(g.stdout)).toMatchObject({ config: { expiryMs: 60_000 } });
  }, 120_000);

  it('an HAProxy reloaded in steady state gets its servers back from its agent; no failed request after', async () => {
    const want = await servers(haproxies[0]!);
    await haproxies[0]!.reload();
    const t0 = Date.now();
    await waitFor(async () => JSON.stringify(await servers(haproxies[0]!)) === JSON.stringify(want), {
      timeoutMs: 20_000,
      intervalMs: 50,
      message: 'the servers are back after the reload',
    });
    console.log(`cluster haproxy: servers back ${Date.now() - t0} ms after the reload`);
    // Health checks of the re-added servers pass (rise 1), then every request is answered.
    await waitFor(async () => (await fetch(`${haproxies[0]!.url}/`)).ok, { timeoutMs: 10_000 });
    const load = startLoad(haproxies[0]!.url, { rps: 50 });
    await waitFor(() => load.report.sent >= 100, {
      timeoutMs: 20_000,
      message: '100 requests after the reload',
    });
    expectNoFailure([await load.stop()]);
  }, 60_000);

  it('an agent killed: its registrations expire and the other HAProxies drop its servers; back, it catches up', async () => {
    const victim = f.agents[2]!;
    const live = [f.agents[0]!.node, f.agents[1]!.node];
    const loads = haproxies.slice(0, 2).map((h) => startLoad(h.url, { rps: 40 }));
    try {
      await victim.kill('SIGKILL');
      // Registrations age out (TTL 4 s); the live agents drain and remove n3's servers from their HAProxy.
      for (const i of [0, 1]) {
        await waitFor(
          async () => {
            const have = await servers(haproxies[i]!);
            return have.length === 4 && have.every((n) => !n.includes(`-${victim.node}-`));
          },
          {
            timeoutMs: 30_000,
            intervalMs: 250,
            message: `haproxy of n${i + 1} drops ${victim.node}'s servers`,
          },
        );
        expect(await settles(i, live)).toHaveLength(4);
      }
    } finally {
      // The dead node's instances kept running while they were drained out: nothing failed.
      expectNoFailure(await Promise.all(loads.map((l) => l.stop())));
    }
    // Nobody drives the dead node's HAProxy meanwhile; its agent, back, adopts its instances, registers
    // them again and brings its HAProxy (and the others) back to the 6 registered servers.
    await f.startAgent(2);
    await waitFor(async () => converged(await f.status(), 2, 3, 2), {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: `${victim.node} rejoins`,
    });
    for (let i = 0; i < 3; i++) expect(await settles(i)).toHaveLength(6);
  }, 180_000);
});
