import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allConverged, nodeConverged } from '../../src/agent/converged.js';
import { watchLeaseExpiry } from '../../src/agent/governors.js';
import { specForNode } from '../../src/agent/node-spec.js';
import type { NodeStatus } from '../../src/agent/node-status.js';
import { leaseWarnings } from '../../src/cli/commands/cluster-deploy.js';
import { Governor } from '../../src/cluster/governor.js';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { loadSpecText } from '../../src/spec/load.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

async function spec(router: string) {
  const text = `services:\n  web:\n    command: /bin/true\n    traffic:\n      listen: 127.0.0.1:8080\n      router: ${router}\n`;
  return (await loadSpecText(text, '/tmp/baton.yaml')).spec.services.web!;
}

describe('specForNode: {node} in HAProxy socket paths', () => {
  it('fills in the node name in every socket; other specs are returned as they are', async () => {
    const s = await spec('{ kind: haproxy, sockets: ["/run/{node}/admin.sock", "10.0.0.5:9999"] }');
    const n2 = specForNode(s, 'n2');
    expect(n2.traffic.router).toMatchObject({ sockets: ['/run/n2/admin.sock', '10.0.0.5:9999'] });
    // The revision's spec itself is not changed (it is shared by every node).
    expect(s.traffic.router).toMatchObject({ sockets: ['/run/{node}/admin.sock', '10.0.0.5:9999'] });
    const plain = await spec('{ kind: haproxy, sockets: [/run/haproxy/admin.sock] }');
    expect(specForNode(plain, 'n2')).toBe(plain);
    const proxy = await spec('proxy');
    expect(specForNode(proxy, 'n2')).toBe(proxy);
  });

  it('outside cluster mode an unfilled {node} is a clear error', () => {
    expect(() => new HaproxyRouter({ sockets: ['/run/{node}/admin.sock'], stateDir: '/tmp' })).toThrow(
      /only baton agent \(cluster mode\) fills in/,
    );
  });
});

describe('deploy --cluster: a governor lease shorter than the probe window is warned about', () => {
  it('names the service, the field and both durations; none when the expiry is long enough', async () => {
    const text = (expiry: string) =>
      `services:\n  web:\n    command: /bin/true\n    probe: {tcp: {}, startTimeout: 20s}\n    traffic: {listen: "127.0.0.1:8080"}\n    cluster: {updateGovernor: {name: up, expiry: ${expiry}}, restartGovernor: rs}\n`;
    const short = (await loadSpecText(text('4s'), '/tmp/baton.yaml')).spec.services.web!;
    expect(leaseWarnings('web', short)).toEqual([
      expect.stringMatching(
        /^web: cluster\.updateGovernor\.expiry 4s is shorter than probe\.startTimeout 20s/,
      ),
    ]);
    const long = (await loadSpecText(text('1m'), '/tmp/baton.yaml')).spec.services.web!;
    expect(leaseWarnings('web', long)).toEqual([]);
  });
});

describe('allConverged', () => {
  const slot = (revision: number, over: object = {}) => ({
    slot: 0,
    state: 'RUN' as const,
    available: [],
    instance: `web-n1-s0-r${revision}`,
    revision,
    healthy: true,
    registered: true,
    restarts: 0,
    ...over,
  });
  const node = (name: string, slots: ReturnType<typeof slot>[], desired = 2): NodeStatus => ({
    node: name,
    pid: 1,
    at: '',
    startedAt: '',
    services: [{ service: 'web', desired, slots }],
  });

  it('needs every live node to run every replica of the revision, healthy and registered', () => {
    const good = node('n1', [slot(2), slot(2)]);
    expect(allConverged([good, node('n2', [slot(2), slot(2)])], 'web', 2, 2)).toBe(true);
    expect(allConverged([], 'web', 2, 2)).toBe(false);
    expect(allConverged([good, node('n2', [slot(2), slot(1)])], 'web', 2, 2)).toBe(false);
    expect(allConverged([good, node('n2', [slot(2)])], 'web', 2, 2)).toBe(false);
    expect(allConverged([good, node('n2', [slot(2), slot(2, { registered: false })])], 'web', 2, 2)).toBe(
      false,
    );
    expect(allConverged([good, node('n2', [slot(2), slot(2, { state: 'UPDATE' })])], 'web', 2, 2)).toBe(
      false,
    );
    // A node that does not know the service yet (its agent just started) has not converged.
    expect(allConverged([good, { ...good, node: 'n3', services: [] }], 'web', 2, 2)).toBe(false);
    expect(nodeConverged(node('n1', [slot(2), slot(2)], 3), 'web', 2, 2)).toBe(false);
  });
});

describe.skipIf(!requireNats())('watchLeaseExpiry on a real nats-server', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNats();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('warns once a lease outlives the expiry (the server dropped it: another holder gets in); not after release', async () => {
    const g = await Governor.add(nc, 'overrun', { capacity: 1, expiryMs: 1000 });
    const lease = await g.acquire('slow-update');
    const overruns: number[] = [];
    const unwatch = await watchLeaseExpiry(g, lease, (ms) => overruns.push(ms));
    await waitFor(() => overruns.length > 0, { timeoutMs: 10_000, message: 'the overrun warning' });
    expect(overruns).toEqual([1000]);
    // What the warning is about: the slot is free again while the slow holder still works.
    const second = await g.acquire('another-agent', { timeoutMs: 10_000, waitMs: 50, maxWaitMs: 200 });
    expect(await g.holds(lease)).toBe(false);
    unwatch();

    const quick: number[] = [];
    const stop = await watchLeaseExpiry(g, second, (ms) => quick.push(ms));
    stop();
    await g.release(second);
    const third = await g.acquire('third');
    await waitFor(async () => !(await g.holds(third)), {
      timeoutMs: 10_000,
      message: 'the third lease expires',
    });
    expect(quick).toEqual([]);
  });
});
