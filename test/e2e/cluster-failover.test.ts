import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterFixture, converged, startClusterFixture } from '../agent/cluster-harness.js';
import { startLoad } from '../helpers/load.js';
import { requireNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const CLUSTER = 'cluster:\n  updateGovernor: { name: fo-up, capacity: 1, expiry: 4s }';

interface LeaseJson {
  leases: Array<{ seq: number; holder: string }>;
}

describe.skipIf(!requireNats())('cluster: a NATS server and an agent die mid-rollout', () => {
  let f: ClusterFixture;
  beforeAll(async () => {
    f = await startClusterFixture({ nodes: 3 });
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

  it('the rollout completes; the dead agent’s lease expires and its registrations leave the routers', async () => {
    const [n1, n2, n3] = f.agents as [(typeof f.agents)[0], (typeof f.agents)[0], (typeof f.agents)[0]];
    // Load through the nodes that stay up (a dead node's proxy is out of the load balancer).
    const loads = [n1, n2].map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 40 }));
    let killedLease: number | undefined;
    try {
      const r = await f.deploy({ version: 'v2', replicas: 2, drainTimeout: '2s', extra: CLUSTER });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      // A NATS server dies as soon as the first update began.
      await waitFor(() => f.events().some((e) => e.type === 'update.start'), { timeoutMs: 20_000 });
      await f.nats.servers[0]!.kill();
      // n3 is SIGKILLed while it holds a lease.
      const held = await waitFor(
        () => {
          const mine = f.events('n3');
          const start = [...mine].reverse().find((e) => e.type === 'update.start');
          return start && !mine.some((e) => e.type === 'update.end' && e.lease === start.lease)
            ? start
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 10, message: 'n3 holds an update lease' },
      );
      await n3.kill('SIGKILL');
      killedLease = held.lease!;
      const afterKill = Date.now();
      // Its lease expires (4 s) and the others go on.
      await waitFor(
        async () => {
          const g = await f.cli(['governor', 'list', 'fo-up', '--json']);
          return (
            g.code === 0 && !(JSON.parse(g.stdout) as LeaseJson).leases.some((l) => l.seq === killedLease)
          );
        },
        { timeoutMs: 20_000, intervalMs: 250, message: 'the dead agent’s lease expires' },
      );
      await waitFor(
        async () => {
          const s = await f.status();
          const nodes = s.services[0]!.nodes.filter((n) => n.node !== 'n3');
          return (
            s.services[0]!.nodes.every((n) => n.node !== 'n3') &&
            nodes.length === 2 &&
            nodes.every((n) => n.slots.every((x) => x.state === 'RUN' && x.revision === 2 && x.healthy))
          );
        },
        { timeoutMs: 60_000, intervalMs: 250, message: 'n1 and n2 run r2; n3 left the node list' },
      );
      expect(f.events().some((e) => e.type === 'update.start' && e.ms > afterKill && e.node !== 'n3')).toBe(
        true,
      );
      // n3's r1 instances still run (instances outlive their agent) but their registrations aged out:
      // the proxies of n1 and n2 send every request to r2.
      for (const a of [n1, n2]) {
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
    } finally {
      const reports = await Promise.all(loads.map((l) => l.stop()));
      for (const rep of reports) expect(rep.failed, rep.errors.join('\n')).toBe(0);
    }
    // n3 comes back: it adopts its instances and finishes its part of the rollout.
    await f.startAgent(2);
    await waitFor(async () => converged(await f.status(), 2, 3, 2), {
      timeoutMs: 60_000,
      intervalMs: 250,
      message: 'n3 rejoins and converges on r2',
    });
  });
});
