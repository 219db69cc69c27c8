import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';

describe.skipIf(!requireNats())('NatsStore logs on a real nats-server', () => {
  let server: NatsServer;
  let store: NatsStore;

  beforeAll(async () => {
    server = await startNats();
    store = await NatsStore.connect({ servers: server.url, bucket: 'logs' });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  // Logs share one stream, so a log's records are scattered over its sequences: reading from record n
  // must land on record n of that log, whatever the others wrote in between.
  it('reads from any record of interleaved logs', async () => {
    for (let i = 1; i <= 60; i++) {
      await store.append('journal.a', { i });
      if (i % 3 === 0) await store.append('journal.b', { i });
      if (i % 7 === 0) await store.append('audit', { i });
    }
    const seqs = async (log: string, from: number, limit?: number) =>
      (await store.read<{ i: number }>(log, { from, ...(limit === undefined ? {} : { limit }) })).map((r) => [
        r.seq,
        r.value.i,
      ]);
    expect(await seqs('journal.a', 37, 3)).toEqual([
      [37, 37],
      [38, 38],
      [39, 39],
    ]);
    expect(await seqs('journal.a', 60)).toEqual([[60, 60]]);
    expect(await seqs('journal.b', 2, 2)).toEqual([
      [2, 6],
      [3, 9],
    ]);
    expect(await seqs('journal.b', 20)).toEqual([[20, 60]]);
    expect(await seqs('audit', 1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((k) => [k, k * 7]));
    expect(await seqs('audit', 9)).toEqual([]);
  });
});
