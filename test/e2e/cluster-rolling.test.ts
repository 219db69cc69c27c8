import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterFixture,
  converged,
  maxConcurrentUpdates,
  startClusterFixture,
} from '../agent/cluster-harness.js';
import { startLoad } from '../helpers/load.js';
import { requireNats } from '../helpers/nats.js';
import { promtoolCheck, requirePromtool, sample, samples } from '../helpers/promtool.js';
import { waitFor } from '../helpers/wait.js';

// The lease must outlive the slowest update (a loaded CI machine can take several seconds to boot, probe
// and drain an instance): an expired lease lets another agent in, as Hoist's governor does by design.
const governor = (capacity: number) =>
  `cluster:\n  updateGovernor: { name: hello-up, capacity: ${capacity}, expiry: 60s }`;

describe.skipIf(!requireNats())('cluster: rolling update of 3 nodes × 2 instances under load', () => {
  let f: ClusterFixture;
  beforeAll(async () => {
    f = await startClusterFixture({ nodes: 3, metrics: true });
  }, 90_000);
  afterAll(async () => {
    await f?.close();
  });

  const rollOut = async (version: string, capacity: number, revision: number) => {
    const loads = f.agents.map((a) => startLoad(`http://127.0.0.1:${a.port}`, { rps: 40 }));
    const before = f.events().length;
    try {
      const r = await f.deploy({ version, replicas: 2, extra: governor(capacity) });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      await waitFor(async () => converged(await f.status(), revision, 3, 2), {
        timeoutMs: 60_000,
        intervalMs: 200,
        message: `every node runs 2 healthy instances of r${revision}`,
      });
    } finally {
      const reports = await Promise.all(loads.map((l) => l.stop()));
      for (const rep of reports) {
        expect(rep.failed, rep.errors.join('\n')).toBe(0);
        expect(rep.ok).toBeGreaterThan(0);
      }
      expect(reports.some((rep) => rep.bodies.has(`hello from ${version}`))).toBe(true);
    }
    const events = f.events().slice(before);
    return events;
  };

  it('first deploy: every agent starts its 2 instances and every proxy serves them', async () => {
    const r = await f.deploy({ version: 'v1', replicas: 2, extra: governor(1) });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await waitFor(async () => converged(await f.status(), 1, 3, 2), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'every node runs 2 healthy instances of r1',
    });
    // Each node's proxy routes to all 6 instances cluster-wide.
    for (const a of f.agents) {
      const res = await waitFor(async () => {
        const x = await fetch(`http://127.0.0.1:${a.port}/`);
        return x.ok ? x.text() : undefined;
      });
      expect(res).toBe('hello from v1\n');
    }
  });

  it('N = 1: 0 failed requests, never more than 1 instance updating', async () => {
    const events = await rollOut('v2', 1, 2);
    const updates = events.filter((e) => e.type === 'update.end');
    expect(updates).toHaveLength(6);
    expect(maxConcurrentUpdates(events)).toBe(1);
  }, 120_000);

  it('N = 2: 0 failed requests, never more than 2 instances updating', async () => {
    // The governor exists (capacity 1): Hoist's way, its capacity changes at once from the CLI.
    const set = await f.cli(['governor', 'set', 'hello-up', '--capacity', '2', '--json']);
    expect(set.code, set.stderr + set.stdout).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ capacity: 2, expiryMs: 60_000 });
    const events = await rollOut('v3', 2, 3);
    expect(events.filter((e) => e.type === 'update.end')).toHaveLength(6);
    const max = maxConcurrentUpdates(events);
    expect(max).toBeLessThanOrEqual(2);
    expect(max).toBe(2);
  }, 120_000);

  it("every agent's /metrics (--metrics-listen, no token) passes promtool and counts its updates, leases and registrations", async () => {
    const status = await f.status();
    const revision = status.services[0]!.desired!.revision;
    for (const a of f.agents) {
      const text = await (await fetch(a.metrics!)).text();
      if (requirePromtool()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
      const m = samples(text);
      const node = { node: a.node };
      // Two rollouts after the first deploy, 2 instances each on this node, each under the update governor.
      expect(
        sample(m, 'baton_agent_updates_total', { ...node, service: 'hello', outcome: 'succeeded' }),
      ).toBe(4);
      expect(sample(m, 'baton_agent_governor_wait_seconds_count', { ...node, governor: 'hello-up' })).toBe(4);
      expect(sample(m, 'baton_agent_governor_leases_held', { ...node, governor: 'hello-up' })).toBe(0);
      expect(sample(m, 'baton_agent_registrations', { ...node, service: 'hello' })).toBe(2);
      expect(sample(m, 'baton_agent_kv_watch_lag_seconds_count', node)).toBeGreaterThanOrEqual(2);
      expect(
        sample(m, 'baton_instances', {
          ...node,
          service: 'hello',
          revision: String(revision),
          state: 'running',
        }),
      ).toBe(2);
      expect(sample(m, 'baton_proxy_up', node)).toBe(1);
    }
  });
});
