import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterFixture, converged, startClusterFixture } from '../agent/cluster-harness.js';
import { type LoadReport, startLoad } from '../helpers/load.js';
import { requireNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const CLUSTER = 'cluster:\n  updateGovernor: { name: fo-up, capacity: 1, expiry: 4s }';

interface LeaseJson {
  leases: Array<{ seq: number; holder: string }>;
}

describe.skipIf(!requireNats())('cluster: a NATS server and an agent die mid-rollout', () => {
  let f: ClusterFixture;
  beforeAll(async () => {
    // A TTL that outlives a stream leader election: with 4 s, live agents' refreshes could fail long
    // enough (the registry's R3 stream electing a leader after the kill) for their entries to age out.
    f = await startClusterFixture({ nodes: 3, ttl: '10s' });
    const r = await f.deploy({ version: 'v1', replicas: 2, drainTimeout: '2s', extra: CLUSTER });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => converged(await f.status(), 1, 3, 2), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'every node runs 2 healthy instances of r1',
    });
  }, 90_000);
  afterAll(async () => {
    await f?.close();
  });

  it('the rollout completes with 0 failed requests on the live nodes; the dead agent’s lease expires and its registrations leave the routers', async () => {
    const loads = f.agents.map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 40 }));
    const stopped: Array<Promise<LoadReport>> = [];
    let victim: (typeof f.agents)[number] | undefined;
    let reports: LoadReport[] = [];
    try {
      const r = await f.deploy({ version: 'v2', replicas: 2, drainTimeout: '2s', extra: CLUSTER });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      // The first agent to take a lease is SIGKILLed while holding it (so updates remain for the others),
      // and a NATS server dies with it.
      const held = await waitFor(() => f.events().find((e) => e.type === 'update.start'), {
        timeoutMs: 20_000,
        intervalMs: 5,
        message: 'an agent holds an update lease',
      });
      victim = f.agents.find((a) => a.node === held.node)!;
      await victim.kill('SIGKILL');
      await f.nats.servers[0]!.kill();
      const afterKill = Date.now();
      // A dead node's proxy is taken out of the outer load balancer: its load stops here.
      stopped[f.agents.indexOf(victim)] = loads[f.agents.indexOf(victim)]!.stop();
      const live = f.agents.filter((a) => a !== victim);
      expect(f.events(victim.node).some((e) => e.type === 'update.end' && e.lease === held.lease)).toBe(
        false,
      );
      // Its lease expires (4 s) and the others go on.
      await waitFor(
        async () => {
          const g = await f.cli(['governor', 'list', 'fo-up', '--json']);
          return (
            g.code === 0 && !(JSON.parse(g.stdout) as LeaseJson).leases.some((l) => l.seq === held.lease)
          );
        },
        { timeoutMs: 20_000, intervalMs: 250, message: 'the dead agent’s lease expires' },
      );
      await waitFor(
        async () => {
          const svc = (await f.status()).services[0]!;
          return (
            svc.nodes.length === 2 &&
            svc.nodes.every((n) => n.node !== victim!.node) &&
            svc.nodes.every((n) => n.slots.every((x) => x.state === 'RUN' && x.revision === 2 && x.healthy))
          );
        },
        {
          timeoutMs: 120_000,
          intervalMs: 250,
          message: 'the live nodes run r2; the dead one left the node list',
        },
      );
      expect(f.events().some((e) => e.type === 'update.start' && e.ms > afterKill)).toBe(true);
      // The dead agent's r1 instances still run (instances outlive their agent) but their registrations
      // aged out: the live proxies send every request to r2.
      for (const a of live) {
        await waitFor(
          async () => {
            for (let i = 0; i < 20; i++) {
              const t = await (await fetch(`http://127.0.0.1:${a.port}/`)).text();
              if (t !== 'hello from v2\n') return false;
            }
            return true;
          },
          { timeoutMs: 20_000, intervalMs: 200, message: `${a.node}'s proxy serves only r2` },
        );
      }
      // Once the routers have let go of the dead node, no request fails on the live ones.
      const after = live.map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 50 }));
      await waitFor(() => after.every((l) => l.report.sent >= 100), {
        timeoutMs: 20_000,
        message: '100 requests on each live proxy after the failover',
      });
      for (const rep of await Promise.all(after.map((l) => l.stop())))
        expect(rep.failed, rep.errors.join('\n')).toBe(0);
    } catch (e) {
      // What the agents warned of (a drain not confirmed, a watch renewed, a write that failed) says why.
      const logs = f.agents.map((a) => `--- ${a.node}\n${a.output().split('\n').slice(-30).join('\n')}`);
      throw new Error(`${(e as Error).message}\n${logs.join('\n')}`);
    } finally {
      reports = await Promise.all(loads.map((l, i) => stopped[i] ?? l.stop()));
      console.log(
        `cluster failover: failed requests per node: ${reports.map((r, i) => `${f.agents[i]!.node} ${r.failed}/${r.sent}`).join(', ')}`,
      );
    }
    // Not one request failed on the live nodes during the whole failover: a router whose registry watch
    // fell behind with the killed server still gets each replacement (from the drain request) before it
    // lets go of the instance it replaces, and an old instance keeps serving until every live router
    // confirmed. (The dead node's load stopped when it died: an outer balancer takes a dead host out.)
    for (const [i, rep] of reports.entries())
      if (f.agents[i] !== victim)
        expect(rep.failed, `${f.agents[i]!.node}: ${rep.errors.join('\n')}`).toBe(0);
    // The dead agent comes back: it adopts its instances and finishes its part of the rollout.
    await f.startAgent(f.agents.indexOf(victim!));
    await waitFor(async () => converged(await f.status(), 2, 3, 2), {
      timeoutMs: 90_000,
      intervalMs: 250,
      message: 'n3 rejoins and converges on r2',
    });
  }, 300_000);
});
