import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe } from 'vitest';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';
import { runStoreContract } from './store.contract.js';

// One real nats-server for the file; each store gets a bucket of its own, removed by its cleanup.
describe.skipIf(!requireNats())('NatsStore on a real nats-server', () => {
  let server: NatsServer;
  let admin: NatsConnection;
  let n = 0;

  beforeAll(async () => {
    server = await startNats();
    admin = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });

  runStoreContract('NatsStore', async () => {
    const bucket = `contract-${++n}`;
    const store = await NatsStore.connect({ servers: server.url, bucket });
    const cleanup = async () => {
      await store.close();
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(`KV_${bucket}`);
      await jsm.streams.delete(`BATON_LOGS_${bucket}`);
    };
    return { store, cleanup };
  });
});
