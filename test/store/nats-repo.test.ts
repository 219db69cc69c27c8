import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/core/errors.js';
import { serviceSchema } from '../../src/spec/schema.js';
import { NatsStore } from '../../src/store/nats/nats-store.js';
import { Repo } from '../../src/store/repo.js';
import { type NatsServer, requireNats, startNats } from '../helpers/nats.js';

// The domain layer over NatsStore, as control planes on two hosts would share it: each has its own
// connection, and the service lock and revision numbers are decided by the server's compare-and-set.
describe.skipIf(!requireNats())('Repo over NatsStore shared by two control planes', () => {
  let server: NatsServer;
  let stores: NatsStore[];
  let a: Repo;
  let b: Repo;

  beforeAll(async () => {
    server = await startNats();
    stores = await Promise.all([1, 2].map(() => NatsStore.connect({ servers: server.url, bucket: 'repo' })));
    [a, b] = stores.map((s) => new Repo(s)) as [Repo, Repo];
  });
  afterAll(async () => {
    await Promise.all((stores ?? []).map((s) => s.close()));
    await server?.stop();
  });

  it('gives the deploy lock to exactly one of two racing control planes', async () => {
    const results = await Promise.allSettled([
      a.acquireLock('web', { holder: 'host-a', deployment: 'da' }, 60_000),
      b.acquireLock('web', { holder: 'host-b', deployment: 'db' }, 60_000),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBe(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(LockHeldError);
    const holder = (await b.getLock('web'))?.deployment;
    expect(await (holder === 'da' ? b : a).releaseLock('web', holder === 'da' ? 'db' : 'da')).toBe(false);
    expect(await a.releaseLock('web', holder)).toBe(true);
    expect(await b.getLock('web')).toBeUndefined();
  });

  it('numbers revisions recorded concurrently from both without a gap or a repeat', async () => {
    const spec = serviceSchema.parse({
      runtime: 'process',
      command: 'node app.js',
      traffic: { listen: '127.0.0.1:8080' },
    });
    const made = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).recordRevision('api', spec, { historyLimit: 20 })),
    );
    expect(made.map((m) => m.revision.number).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await a.listRevisions('api')).map((r) => r.number).sort((x, y) => x - y)).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
  });

  it('shares the journal and the audit log', async () => {
    await a.journal('d1', { step: 1, op: 'start', phase: 'begin' });
    await b.journal('d1', { step: 1, op: 'start', phase: 'done' });
    expect((await b.readJournal('d1')).map((r) => [r.seq, r.phase])).toEqual([
      [1, 'begin'],
      [2, 'done'],
    ]);
    await a.audit({ actor: 'alice', action: 'deploy', service: 'web', result: 'ok' });
    await b.audit({ actor: 'bob', action: 'rollback', service: 'web', result: 'ok' });
    expect((await a.listAudit({ service: 'web' })).map((r) => r.actor)).toEqual(['bob', 'alice']);
  });
});
