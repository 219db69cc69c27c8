import { jetstream, PubHeaders } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';
import { freePort } from '../router/helpers.js';

describe.skipIf(!requireNats())('NatsStore: errors, races and retries on a real nats-server', () => {
  let server: NatsServer;

  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('says UNAVAILABLE when no server answers', async () => {
    const port = await freePort();
    await expect(
      NatsStore.connect({ servers: `nats://127.0.0.1:${port}`, timeoutMs: 1000 }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`127.0.0.1:${port}`) });
  });

  it('says UNAVAILABLE once its deadline passes when the server went away', async () => {
    const own = await startNats();
    const store = await NatsStore.connect({ servers: own.url, deadlineMs: 1500, timeoutMs: 500 });
    try {
      await store.create('k', 1);
      await own.kill();
      const t0 = Date.now();
      await expect(store.get('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(store.append('audit', 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('gives every concurrent appender its own number, without gaps', async () => {
    const stores = await Promise.all(
      [1, 2, 3].map(() => NatsStore.connect({ servers: server.url, bucket: 'appenders' })),
    );
    try {
      const seqs = await Promise.all(
        stores.flatMap((s, i) => Array.from({ length: 10 }, (_, j) => s.append('journal.d1', { i, j }))),
      );
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
      const records = await stores[0]!.read<{ i: number; j: number }>('journal.d1');
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
      expect(new Set(records.map((r) => `${r.value.i}.${r.value.j}`)).size).toBe(30);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('lets exactly one of several concurrent compare-and-set writers win', async () => {
    const stores = await Promise.all(
      [1, 2, 3, 4, 5].map(() => NatsStore.connect({ servers: server.url, bucket: 'racers' })),
    );
    try {
      const r1 = await stores[0]!.create('lock.web', { holder: 'nobody' });
      const results = await Promise.allSettled(
        stores.map((s, i) => s.update('lock.web', { holder: `h${i}` }, r1)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won.length).toBe(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      }
      const cur = await stores[0]!.get('lock.web');
      expect(cur?.revision).toBe((won[0] as PromiseFulfilledResult<number>).value);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  // The store repeats a timed-out write with the same message id. That is only safe if the server
  // answers a repeat of a write that landed with "duplicate" (and the first sequence) before it checks
  // the expected last sequence — which the landed write itself has moved on.
  it('a repeated write with the same message id is answered duplicate, not applied twice', async () => {
    const store = await NatsStore.connect({ servers: server.url, bucket: 'dedupe' });
    const nc: NatsConnection = await connect({ servers: server.url });
    try {
      const rev = await store.create('k', 'a');
      const js = jetstream(nc);
      const publish = () => {
        const h = headers();
        h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(rev));
        return js.publish('$KV.dedupe.k', JSON.stringify('b'), { msgID: 'write-1', headers: h });
      };
      const first = await publish();
      const again = await publish();
      expect(first.duplicate).toBe(false);
      expect(again).toMatchObject({ duplicate: true, seq: first.seq });
      expect(await store.get('k')).toEqual({ key: 'k', value: 'b', revision: first.seq });
    } finally {
      await nc.close();
      await store.close();
    }
  });
});
