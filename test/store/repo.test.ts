import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, LockHeldError, NotFoundError } from '../../src/core/errors.js';
import type { Deployment } from '../../src/core/types.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { canonicalJson, specHash } from '../../src/store/hash.js';
import { Repo } from '../../src/store/repo.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from './temp.js';

const spec = (over: Record<string, unknown> = {}): ServiceSpec =>
  serviceSchema.parse({
    runtime: 'process',
    command: 'node app.js',
    traffic: { listen: '127.0.0.1:8080' },
    ...over,
  });

const deployment = (id: string, service: string, startedAt: string): Deployment => ({
  id,
  service,
  fromRevision: null,
  toRevision: 1,
  state: 'planned',
  kind: 'deploy',
  actor: 'alice',
  startedAt,
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).toBe('[2,1]');
  });

  it('drops what JSON drops', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(specHash({ a: undefined, b: 1 })).toBe(specHash({ b: 1 }));
  });
});

const stores: [string, () => { store: Store; cleanup: () => Promise<void> }][] = [
  ['MemoryStore', () => ({ store: new MemoryStore(), cleanup: async () => {} })],
  [
    'SqliteStore',
    () => {
      const { dir, remove } = tempDir();
      const store = SqliteStore.open(dir);
      return {
        store,
        cleanup: async () => {
          await store.close();
          remove();
        },
      };
    },
  ],
];

describe.each(stores)('Repo over %s', (_name, make) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let now: number;
  let repo: Repo;

  beforeEach(() => {
    ({ store, cleanup } = make());
    now = Date.parse('2025-01-01T00:00:00.000Z');
    repo = new Repo(store, { now: () => now });
  });
  afterEach(async () => {
    await cleanup();
  });

  describe('services', () => {
    it('creates and updates a service record by compare-and-set', async () => {
      expect(await repo.getService('web')).toBeUndefined();
      await repo.updateService('web', (cur) => cur ?? { name: 'web', current: null, lastRevision: 0 });
      const rec = await repo.updateService('web', (cur) => ({ ...cur!, stopped: true }));
      expect(rec).toEqual({ name: 'web', current: null, lastRevision: 0, stopped: true });
      expect(await repo.getService('web')).toEqual(rec);
      await repo.updateService('api', () => ({ name: 'api', current: null, lastRevision: 0 }));
      expect((await repo.listServices()).map((s) => s.name)).toEqual(['api', 'web']);
    });

    /** The store, but before each `update` another writer gets in first (as many times as `races`). */
    const racing = (races: number): Store =>
      new Proxy(store, {
        get(target, prop) {
          if (prop === 'update') {
            return async (key: string, value: unknown, expected: number) => {
              if (races-- > 0) {
                const cur = await target.get<Record<string, unknown>>(key);
                await target.update(key, { ...cur!.value, lastRevision: 5 }, expected);
              }
              return target.update(key, value, expected);
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });

    it('re-reads and retries when another writer gets in between read and write', async () => {
      await repo.updateService('web', () => ({ name: 'web', current: null, lastRevision: 0 }));
      const seen: number[] = [];
      const rec = await new Repo(racing(1)).updateService('web', (cur) => {
        seen.push(cur!.lastRevision);
        return { ...cur!, current: cur!.lastRevision };
      });
      expect(seen).toEqual([0, 5]);
      expect(rec.current).toBe(5);
      expect(await repo.getService('web')).toEqual(rec);
    });

    it('gives up with ConflictError after ten lost races', async () => {
      await repo.updateService('web', () => ({ name: 'web', current: null, lastRevision: 0 }));
      let calls = 0;
      const update = new Repo(racing(100)).updateService('web', (cur) => {
        calls++;
        return cur!;
      });
      await expect(update).rejects.toBeInstanceOf(ConflictError);
      expect(calls).toBe(10);
    });

    it('concurrent updates all land', async () => {
      await repo.updateService('web', () => ({ name: 'web', current: null, lastRevision: 0 }));
      await Promise.all(
        Array.from({ length: 5 }, () =>
          repo.updateService('web', (c) => ({ ...c!, lastRevision: c!.lastRevision + 1 })),
        ),
      );
      expect((await repo.getService('web'))?.lastRevision).toBe(5);
    });

    it('refuses names that would break the key layout', async () => {
      await expect(repo.getService('a.b')).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(repo.recordRevision('a b', spec())).rejects.toMatchObject({ code: 'BAD_INPUT' });
    });
  });

  describe('revisions', () => {
    it('numbers revisions 1, 2, 3 and keeps them pending', async () => {
      const r1 = await repo.recordRevision('web', spec());
      const r2 = await repo.recordRevision('web', spec({ replicas: 2 }));
      const r3 = await repo.recordRevision('web', spec({ replicas: 3 }));
      expect([r1, r2, r3].map((r) => [r.revision.number, r.created, r.revision.status])).toEqual([
        [1, true, 'pending'],
        [2, true, 'pending'],
        [3, true, 'pending'],
      ]);
      expect(r1.revision.createdAt).toBe('2025-01-01T00:00:00.000Z');
      expect(await repo.getService('web')).toEqual({ name: 'web', current: null, lastRevision: 3 });
      expect(await repo.getRevision('web', 2)).toEqual(r2.revision);
      expect((await repo.listRevisions('web')).map((r) => r.number)).toEqual([3, 2, 1]);
      expect((await repo.recordRevision('api', spec())).revision.number).toBe(1);
    });

    it('hashes the canonical JSON of the spec, keyed by the store: same spec, same hash, whatever the key order', async () => {
      const a = spec({ env: { A: '1', B: '2' } });
      const entries: [string, unknown][] = Object.entries({ ...a, env: { B: '2', A: '1' } });
      const reordered = Object.fromEntries(entries.reverse()) as unknown as ServiceSpec;
      const r1 = await repo.recordRevision('web', a);
      const r2 = await repo.recordRevision('web', reordered);
      const r3 = await repo.recordRevision('web', spec({ env: { A: '1', B: '3' } }));
      expect(r1.revision.hash).toMatch(/^[0-9a-f]{64}$/);
      // An HMAC under the store's secret: not the plain digest anyone could recompute from a guess.
      expect(r1.revision.hash).not.toBe(createHash('sha256').update(canonicalJson(a)).digest('hex'));
      const secret = (await store.get<string>('meta.hash-key'))!.value;
      expect(Buffer.from(secret, 'base64')).toHaveLength(32);
      expect(r1.revision.hash).toBe(
        createHmac('sha256', Buffer.from(secret, 'base64')).update(canonicalJson(a)).digest('hex'),
      );
      expect(r2.revision.hash).toBe(r1.revision.hash);
      expect(r3.revision.hash).not.toBe(r1.revision.hash);
      expect((await repo.findRevisionBySpec('web', reordered))?.number).toBe(2);
      expect(await repo.findRevisionBySpec('web', spec({ replicas: 9 }))).toBeUndefined();
      // Another store, another key: the same spec hashes differently; a second Repo on this store agrees.
      expect(await new Repo(new MemoryStore()).specHash(a)).not.toBe(r1.revision.hash);
      expect(await new Repo(store).specHash(a)).toBe(r1.revision.hash);
    });

    it('prunes beyond the history limit but never the current revision', async () => {
      await repo.recordRevision('web', spec());
      await repo.updateService('web', (c) => ({ ...c!, current: 1 }));
      for (let i = 2; i <= 6; i++)
        await repo.recordRevision('web', spec({ replicas: i }), { historyLimit: 3 });
      expect((await repo.listRevisions('web')).map((r) => r.number)).toEqual([6, 5, 4, 1]);
      await repo.updateService('web', (c) => ({ ...c!, current: 6 }));
      await repo.recordRevision('web', spec({ replicas: 7 }), { historyLimit: 3 });
      expect((await repo.listRevisions('web')).map((r) => r.number)).toEqual([7, 6, 5]);
    });

    it('keeps ten revisions by default and does not touch another service with a longer name', async () => {
      await repo.recordRevision('web-api', spec());
      for (let i = 1; i <= 12; i++) await repo.recordRevision('web', spec({ replicas: i }));
      expect((await repo.listRevisions('web')).map((r) => r.number)).toEqual([
        12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
      ]);
      expect((await repo.listRevisions('web-api')).map((r) => r.number)).toEqual([1]);
    });

    it('sets a revision status and reason', async () => {
      await repo.recordRevision('web', spec());
      expect(await repo.setRevisionStatus('web', 1, 'failed', 'probe failed')).toMatchObject({
        status: 'failed',
        reason: 'probe failed',
      });
      const active = await repo.setRevisionStatus('web', 1, 'active');
      expect(active.status).toBe('active');
      expect((await repo.getRevision('web', 1))?.reason).toBeUndefined();
      await expect(repo.setRevisionStatus('web', 9, 'active')).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('deployments', () => {
    it('creates once, updates by compare-and-set, lists newest first', async () => {
      await repo.createDeployment(deployment('d1', 'web', '2025-01-01T00:00:01.000Z'));
      await repo.createDeployment(deployment('d2', 'api', '2025-01-01T00:00:02.000Z'));
      await repo.createDeployment(deployment('d3', 'web', '2025-01-01T00:00:03.000Z'));
      await expect(repo.createDeployment(deployment('d1', 'web', 'x'))).rejects.toBeInstanceOf(ConflictError);

      const updated = await repo.updateDeployment('d1', {
        state: 'succeeded',
        finishedAt: '2025-01-01T00:01:00.000Z',
      });
      expect(updated).toMatchObject({ id: 'd1', service: 'web', state: 'succeeded', actor: 'alice' });
      expect(await repo.getDeployment('d1')).toEqual(updated);
      await expect(repo.updateDeployment('nope', { state: 'failed' })).rejects.toBeInstanceOf(NotFoundError);

      expect((await repo.listDeployments()).map((d) => d.id)).toEqual(['d3', 'd2', 'd1']);
      expect((await repo.listDeployments('web')).map((d) => d.id)).toEqual(['d3', 'd1']);
      expect((await repo.listDeployments(undefined, { limit: 1 })).map((d) => d.id)).toEqual(['d3']);
    });

    it('concurrent patches of one deployment all land', async () => {
      await repo.createDeployment(deployment('d1', 'web', '2025-01-01T00:00:01.000Z'));
      await Promise.all([
        repo.updateDeployment('d1', { state: 'running' }),
        repo.updateDeployment('d1', { error: 'x' }),
        repo.updateDeployment('d1', { finishedAt: 'later' }),
      ]);
      expect(await repo.getDeployment('d1')).toMatchObject({
        state: 'running',
        error: 'x',
        finishedAt: 'later',
      });
    });
  });

  describe('journal', () => {
    it('keeps entries in order, per deployment', async () => {
      expect(await repo.journal('d1', { step: 1, op: 'start', phase: 'begin' })).toBe(1);
      await repo.journal('d2', { step: 1, op: 'start', phase: 'begin' });
      await repo.journal('d1', {
        step: 1,
        op: 'start',
        phase: 'done',
        data: { instance: 'i-1', port: 4001 },
      });
      await repo.journal('d1', { step: 2, op: 'probe', phase: 'failed', error: 'timeout' });
      const got = await repo.readJournal('d1');
      expect(got.map((e) => [e.seq, e.step, e.op, e.phase])).toEqual([
        [1, 1, 'start', 'begin'],
        [2, 1, 'start', 'done'],
        [3, 2, 'probe', 'failed'],
      ]);
      expect(got[1]?.data).toEqual({ instance: 'i-1', port: 4001 });
      expect(got[2]?.error).toBe('timeout');
      expect(await repo.readJournal('d3')).toEqual([]);
    });
  });

  describe('lock', () => {
    const holder = { holder: 'alice@host', pid: 42, deployment: 'd1' };

    it('is held until it expires, then taken over', async () => {
      const lock = await repo.acquireLock('web', holder, 60_000);
      expect(lock).toMatchObject({
        service: 'web',
        holder: 'alice@host',
        pid: 42,
        deployment: 'd1',
        since: '2025-01-01T00:00:00.000Z',
        expiresAt: '2025-01-01T00:01:00.000Z',
      });
      expect(await repo.getLock('web')).toEqual(lock);

      now += 30_000;
      const held = repo.acquireLock('web', { holder: 'bob', deployment: 'd2' }, 60_000);
      await expect(held).rejects.toBeInstanceOf(LockHeldError);
      await expect(repo.acquireLock('web', { holder: 'bob' }, 60_000)).rejects.toThrow(/alice@host.*d1/);
      await expect(repo.acquireLock('web', holder, 60_000)).rejects.toMatchObject({ code: 'LOCK_HELD' });
      await repo.acquireLock('api', { holder: 'bob' }, 1_000);

      now += 30_001;
      const taken = await repo.acquireLock('web', { holder: 'bob', deployment: 'd2' }, 10_000);
      expect(taken).toMatchObject({ holder: 'bob', deployment: 'd2', since: '2025-01-01T00:01:00.001Z' });
      expect((await repo.getLock('web'))?.holder).toBe('bob');
    });

    it('lets only one of two concurrent takers win', async () => {
      const results = await Promise.allSettled([
        repo.acquireLock('web', { holder: 'a', deployment: 'da' }, 1_000),
        repo.acquireLock('web', { holder: 'b', deployment: 'db' }, 1_000),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(LockHeldError);
    });

    it('renews only for its deployment', async () => {
      await repo.acquireLock('web', holder, 1_000);
      now += 900;
      expect((await repo.renewLock('web', 'd1', 1_000)).expiresAt).toBe('2025-01-01T00:00:01.900Z');
      now += 500;
      await expect(repo.acquireLock('web', { holder: 'bob' }, 1_000)).rejects.toBeInstanceOf(LockHeldError);
      await expect(repo.renewLock('web', 'd2', 1_000)).rejects.toBeInstanceOf(LockHeldError);
      await expect(repo.renewLock('api', 'd1', 1_000)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('is released by its deployment, or by force', async () => {
      await repo.acquireLock('web', holder, 60_000);
      expect(await repo.releaseLock('web', 'd2')).toBe(false);
      expect(await repo.getLock('web')).toBeDefined();
      expect(await repo.releaseLock('web', 'd1')).toBe(true);
      expect(await repo.getLock('web')).toBeUndefined();
      expect(await repo.releaseLock('web', 'd1')).toBe(false);

      await repo.acquireLock('web', { holder: 'bob', deployment: 'd2' }, 60_000);
      expect(await repo.releaseLock('web')).toBe(true);
      await repo.acquireLock('web', holder, 60_000);
    });
  });

  describe('audit', () => {
    it('appends with a timestamp and lists newest first, by service and limit', async () => {
      await repo.audit({
        actor: 'alice',
        action: 'deploy',
        service: 'web',
        revision: 1,
        deployment: 'd1',
        result: 'started',
      });
      now += 1_000;
      await repo.audit({
        actor: 'alice',
        action: 'deploy',
        service: 'web',
        revision: 1,
        deployment: 'd1',
        result: 'ok',
      });
      await repo.audit({
        actor: 'bob',
        action: 'stop',
        service: 'api',
        result: 'failed',
        message: 'no such service',
      });
      await repo.audit({ actor: 'bob', action: 'login', result: 'ok' });

      const all = await repo.listAudit();
      expect(all.map((a) => [a.seq, a.action, a.result])).toEqual([
        [4, 'login', 'ok'],
        [3, 'stop', 'failed'],
        [2, 'deploy', 'ok'],
        [1, 'deploy', 'started'],
      ]);
      expect(all[3]?.at).toBe('2025-01-01T00:00:00.000Z');
      expect(all[2]?.at).toBe('2025-01-01T00:00:01.000Z');
      expect((await repo.listAudit({ service: 'web' })).map((a) => a.seq)).toEqual([2, 1]);
      expect((await repo.listAudit({ service: 'web', limit: 1 })).map((a) => a.seq)).toEqual([2]);
      expect((await repo.listAudit({ limit: 2 })).map((a) => a.seq)).toEqual([4, 3]);
    });
  });
});
