import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { type NatsCluster, requireNats, startNatsCluster } from '../helpers/nats.js';

describe.skipIf(!requireNats())('NatsStore on a 3-node cluster with R3 buckets', () => {
  let cluster: NatsCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps working when the server it is connected to, the bucket leader, is killed', async () => {
    const setup = await NatsStore.connect({ servers: cluster.urls, bucket: 'r3', replicas: 3 });
    const r1 = await setup.create('services.web', { tag: 'v1' });
    await setup.append('journal.d1', { step: 1 });
    await setup.close();

    // Connect to the bucket's leader first, so killing it costs both the connection and the leader.
    const admin = await connect({ servers: cluster.urls });
    const info = await (await jetstreamManager(admin)).streams.info('KV_r3');
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBe(2);
    await admin.close();
    const leader = cluster.servers.find((s) => s.name === info.cluster?.leader)!;
    const others = cluster.servers.filter((s) => s !== leader);
    const nc: NatsConnection = await connect({
      servers: [leader.url, ...others.map((s) => s.url)],
      noRandomize: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const store = await NatsStore.open(nc, { bucket: 'r3', replicas: 3 });
    try {
      expect(nc.getServer()).toBe(leader.url.replace('nats://', ''));
      const watch = await store.watch<{ tag: string }>('services.');
      const changes = watch[Symbol.asyncIterator]();
      expect((await changes.next()).value).toMatchObject({ key: 'services.web', initial: true });
      await leader.kill();

      // No waiting here: each call rides through the reconnect and the leader election itself.
      expect(await store.get('services.web')).toMatchObject({ value: { tag: 'v1' }, revision: r1 });
      const r2 = await store.update('services.web', { tag: 'v2' }, r1);
      await expect(store.update('services.web', { tag: 'stale' }, r1)).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      await store.create('services.api', { tag: 'v1' });
      expect((await store.list('services.')).map((e) => [e.key, e.revision > 0])).toEqual([
        ['services.api', true],
        ['services.web', true],
      ]);
      expect(await store.append('journal.d1', { step: 2 })).toBe(2);
      expect((await store.read('journal.d1')).map((r) => r.value)).toEqual([{ step: 1 }, { step: 2 }]);
      expect((await store.get('services.web'))?.revision).toBe(r2);
      expect(others.map((s) => s.url)).toContain(`nats://${nc.getServer()}`);

      // The watch lost its server too, and goes on after the last change it yielded.
      expect((await changes.next()).value).toMatchObject({
        key: 'services.web',
        value: { tag: 'v2' },
        revision: r2,
      });
      expect((await changes.next()).value).toMatchObject({ key: 'services.api', value: { tag: 'v1' } });
      watch.stop();

      const after = await (await jetstreamManager(nc)).streams.info('KV_r3');
      expect(after.cluster?.leader).not.toBe(leader.name);
    } finally {
      await store.close();
      await nc.close();
    }
  });
});
