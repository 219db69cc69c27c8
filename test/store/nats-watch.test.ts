import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import type { StoreChange } from '../../src/store/nats/watch.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';

describe.skipIf(!requireNats())('NatsStore.watch on a real nats-server', () => {
  let server: NatsServer;

  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('yields the current values, then writes and deletes from another client as they happen', async () => {
    const writer = await NatsStore.connect({ servers: server.url, bucket: 'desired' });
    const agent = await NatsStore.connect({ servers: server.url, bucket: 'desired' });
    try {
      const r0 = await writer.create('desired.web.tag', 'v0');
      const replicas = await writer.create('desired.web.replicas', '2');
      const r1 = await writer.update('desired.web.tag', 'v1', r0);
      await writer.create('desired.webapp.tag', 'other service');
      await writer.create('nodes.n1', { up: true });
      const watch = await agent.watch<string>('desired.web.');
      const it = watch[Symbol.asyncIterator]();
      // `created` (the server's time of the write, for the agent's watch-lag metric) is checked apart.
      const next = async () => {
        const { created, ...rest } = (await it.next()).value as StoreChange<string>;
        expect(created).toBeInstanceOf(Date);
        return rest;
      };
      // Each key's current value, in revision order.
      expect(await next()).toEqual({
        op: 'put',
        key: 'desired.web.replicas',
        value: '2',
        revision: replicas,
        initial: true,
      });
      expect(await next()).toEqual({
        op: 'put',
        key: 'desired.web.tag',
        value: 'v1',
        revision: r1,
        initial: true,
      });
      // Two writes back to back: each comes as its own change, in order (the server pushes every write
      // of the stream; a poller would see only the last). How fast it comes is a benchmark's claim
      // (bench/cluster-converge.mjs, "pickup"), not a test's.
      const r2 = await writer.update('desired.web.tag', 'v2', r1);
      const r3 = await writer.update('desired.web.tag', 'v3', r2);
      expect(await next()).toEqual({
        op: 'put',
        key: 'desired.web.tag',
        value: 'v2',
        revision: r2,
        initial: false,
      });
      expect(await next()).toEqual({
        op: 'put',
        key: 'desired.web.tag',
        value: 'v3',
        revision: r3,
        initial: false,
      });
      await writer.delete('desired.web.tag');
      expect(await next()).toMatchObject({ op: 'delete', key: 'desired.web.tag', initial: false });
      watch.stop();
      expect((await it.next()).done).toBe(true);
    } finally {
      await writer.close();
      await agent.close();
    }
  });
});
