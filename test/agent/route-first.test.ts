import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireNats } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';
import { type ClusterFixture, converged, startClusterFixture } from './cluster-harness.js';

/**
 * A node reports a slot healthy and registered only once its own route listens: while n1's port is
 * taken (its proxy cannot open the route), n1 runs no instance of the service and reports none; once
 * the port is free its agent opens the route by itself, and the cluster converging means n1's port
 * answers. Before, the slot ran and was reported registered whether or not the route ever opened.
 */
describe.skipIf(!requireNats())('cluster: the route opens before a slot is reported', () => {
  let f: ClusterFixture;
  let blocker: Server | undefined;
  beforeAll(async () => {
    f = await startClusterFixture({ nodes: 2 });
  }, 60_000);
  afterAll(async () => {
    blocker?.close();
    await f?.close();
  });

  it('no slot is reported serving on a node whose port is not open; it serves once it opens', async () => {
    const [n1, n2] = f.agents as [(typeof f.agents)[0], (typeof f.agents)[0]];
    const b = createServer((s) => s.destroy());
    blocker = b;
    await new Promise<void>((resolve, reject) => {
      b.once('error', reject);
      b.listen(n1.port, '127.0.0.1', () => resolve());
    });

    const r = await f.deploy({ version: 'v1', replicas: 1 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const nodeOf = async (node: string) => (await f.status()).services[0]?.nodes.find((n) => n.node === node);
    await waitFor(
      async () =>
        /route still cannot be opened|applying desired state failed/.test(n1.output()) &&
        (await nodeOf(n2.node))?.slots.some((x) => x.healthy && x.registered),
      { timeoutMs: 30_000, intervalMs: 200, message: 'n2 serves; n1 could not open its route' },
    );
    expect((await nodeOf(n1.node))?.slots.some((x) => x.registered || x.healthy) ?? false).toBe(false);

    await new Promise<void>((resolve) => b.close(() => resolve()));
    blocker = undefined;
    await waitFor(async () => converged(await f.status(), 1, 2, 1), {
      timeoutMs: 30_000,
      intervalMs: 200,
      message: 'both nodes serve r1',
    });
    // Converged: every node's port answers at once.
    for (const a of f.agents) {
      const res = await fetch(`http://127.0.0.1:${a.port}/`);
      expect((await res.text()).trim()).toBe('hello from v1');
    }
  }, 90_000);
});
