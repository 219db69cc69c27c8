import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Governor } from '../../src/cluster/governor.js';
import { type Registration, Registry } from '../../src/cluster/registry.js';
import { type NatsCluster, type NatsServer, requireNats, startNatsCluster } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

// The governor and the registry on R3 streams of a 3-node cluster: losing one server (the one that
// leads the stream) loses nothing and stops nobody.
describe.skipIf(!requireNats())('governor and registry on a 3-node cluster', () => {
  let cluster: NatsCluster;
  const conns: NatsConnection[] = [];
  /** A client connected first to `first`, failing over to the others. */
  const conn = async (first: NatsServer) => {
    const nc = await connect({
      servers: [first.url, ...cluster.urls.filter((u) => u !== first.url)],
      noRandomize: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    conns.push(nc);
    return nc;
  };
  const leaderOf = async (stream: string) => {
    const nc = await connect({ servers: cluster.urls });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream);
      expect(info.config.num_replicas).toBe(3);
      return cluster.servers.find((s) => s.name === info.cluster?.leader)!;
    } finally {
      await nc.close();
    }
  };

  // Each test kills a server: each gets a cluster of its own.
  beforeEach(async () => {
    cluster = await startNatsCluster(3);
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.close()));
    await cluster?.stop();
  });

  it('keeps leases, grants no more than capacity, and serves waiters after its leader is killed', async () => {
    const setup = await Governor.add(await conn(cluster.servers[0]!), 'updates', {
      capacity: 2,
      expiryMs: 60_000,
      replicas: 3,
    });
    const leader = await leaderOf(setup.stream);
    const holding = new Set<string>();
    let most = 0;
    let done = 0;
    const contender = async (who: string, nc: NatsConnection) => {
      const gov = await Governor.open(nc, 'updates');
      for (let round = 0; round < 4; round++) {
        const lease = await gov.acquire(who, { timeoutMs: 60_000, waitMs: 20, maxWaitMs: 250 });
        holding.add(who);
        most = Math.max(most, holding.size);
        await new Promise((r) => setTimeout(r, 50)); // the work done under the lease
        holding.delete(who);
        await gov.release(lease);
        done++;
      }
    };
    // Every contender talks to the leader first: killing it costs them their connection too.
    const all = Promise.all(['a', 'b', 'c', 'd'].map(async (who) => contender(who, await conn(leader))));
    await waitFor(() => done >= 2, { message: 'two leases granted and released before the kill' });
    await leader.kill();
    await all;
    expect(done).toBe(16);
    expect(most).toBe(2);
    expect(await setup.list()).toEqual([]);
  });

  it('a registry watch survives the loss of its server, and still sees changes and expiry', async () => {
    const [a, b] = cluster.servers;
    await Registry.open(await conn(a!), { bucket: 'services', ttlMs: 3000, replicas: 3 });
    const leader = await leaderOf('KV_services');
    const agentVia = cluster.servers.find((s) => s !== leader) ?? b!;
    const agent = await Registry.open(await conn(agentVia), { bucket: 'services' });
    const w = await (await Registry.open(await conn(leader), { bucket: 'services' })).watch({
      cluster: 'lon',
      service: 'web',
    });
    const reg = (instance: string): Registration => ({
      cluster: 'lon',
      service: 'web',
      protocol: 'http',
      instance,
      address: '127.0.0.1',
      port: 8080,
      priority: 1,
      annotations: {},
      revision: 1,
    });
    const instances = () =>
      w
        .current()
        .map((r) => r.instance)
        .sort()
        .join();
    const refreshers = [];
    try {
      refreshers.push(await agent.keepAlive(reg('kept'), { everyMs: 500 }));
      const dying = await agent.keepAlive(reg('dying'), { everyMs: 500 });
      await waitFor(() => instances() === 'dying,kept', { message: 'both registrations seen' });
      // The watcher loses its server, which also led the bucket.
      await leader.kill();
      refreshers.push(await agent.keepAlive(reg('after-kill'), { everyMs: 500 }));
      await waitFor(() => instances() === 'after-kill,dying,kept', {
        timeoutMs: 20_000,
        message: 'a registration written after the kill reaches the watcher',
      });
      await dying.stop();
      await waitFor(() => instances() === 'after-kill,kept', {
        timeoutMs: 20_000,
        message: 'the unrefreshed registration expires; the refreshed ones stay',
      });
    } finally {
      for (const r of refreshers) await r.stop();
      w.stop();
    }
  }, 90_000);
});
