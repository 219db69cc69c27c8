import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import type { Store } from '../../src/store/store.js';

export type MakeStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/** The behaviour every Store implementation must share. Each implementation's test file calls this once. */
export function runStoreContract(name: string, make: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    const conflict = { code: 'CONFLICT' };

    describe('get / create', () => {
      it('returns undefined for a missing key', async () => {
        expect(await store.get('services.none')).toBeUndefined();
      });

      it('creates a key and reads it back with its revision', async () => {
        const rev = await store.create('services.web', { name: 'web' });
        expect(rev).toBeGreaterThan(0);
        expect(await store.get('services.web')).toEqual({
          key: 'services.web',
          value: { name: 'web' },
          revision: rev,
        });
      });

      it('refuses to create a key twice and keeps the first value', async () => {
        const rev = await store.create('services.web', 1);
        await expect(store.create('services.web', 2)).rejects.toBeInstanceOf(ConflictError);
        await expect(store.create('services.web', 2)).rejects.toMatchObject(conflict);
        expect(await store.get('services.web')).toEqual({ key: 'services.web', value: 1, revision: rev });
      });
    });

    describe('update', () => {
      it('writes when the revision matches and returns a higher revision', async () => {
        const r1 = await store.create('k', 'a');
        const r2 = await store.update('k', 'b', r1);
        expect(r2).toBeGreaterThan(r1);
        expect(await store.get('k')).toEqual({ key: 'k', value: 'b', revision: r2 });
      });

      it('refuses a stale revision and keeps the current value', async () => {
        const r1 = await store.create('k', 'a');
        const r2 = await store.update('k', 'b', r1);
        await expect(store.update('k', 'c', r1)).rejects.toMatchObject({
          code: 'CONFLICT',
          details: { key: 'k', expected: r1, actual: r2 },
        });
        expect((await store.get('k'))?.value).toBe('b');
      });

      it('refuses to update a missing key', async () => {
        await expect(store.update('k', 'a', 1)).rejects.toMatchObject(conflict);
        expect(await store.get('k')).toBeUndefined();
      });
    });

    describe('delete', () => {
      it('deletes without an expected revision, and a missing key is not an error', async () => {
        await store.create('k', 1);
        await store.delete('k');
        expect(await store.get('k')).toBeUndefined();
        await expect(store.delete('k')).resolves.toBeUndefined();
      });

      it('deletes with the expected revision', async () => {
        const r = await store.create('k', 1);
        await store.delete('k', r);
        expect(await store.get('k')).toBeUndefined();
      });

      it('refuses a stale expected revision, or an expected revision of a missing key', async () => {
        const r1 = await store.create('k', 1);
        const r2 = await store.update('k', 2, r1);
        await expect(store.delete('k', r1)).rejects.toMatchObject(conflict);
        expect((await store.get('k'))?.revision).toBe(r2);
        await expect(store.delete('gone', 1)).rejects.toMatchObject(conflict);
      });
    });

    describe('revisions', () => {
      it('increase on every write, across keys', async () => {
        const a1 = await store.create('a', 1);
        const b1 = await store.create('b', 1);
        const a2 = await store.update('a', 2, a1);
        const b2 = await store.update('b', 2, b1);
        const a3 = await store.update('a', 3, a2);
        expect(a1).toBeLessThan(b1);
        expect(b1).toBeLessThan(a2);
        expect(a2).toBeLessThan(b2);
        expect(b2).toBeLessThan(a3);
      });

      it('are never reused after delete and create, so a stale writer cannot win', async () => {
        const stale = await store.create('k', 'old');
        await store.delete('k');
        const fresh = await store.create('k', 'new');
        expect(fresh).toBeGreaterThan(stale);
        await expect(store.update('k', 'stale write', stale)).rejects.toMatchObject(conflict);
        expect((await store.get('k'))?.value).toBe('new');
      });
    });

    describe('list', () => {
      const keys = [
        'services.b',
        'services.a.x',
        'other.a',
        'services.ab',
        'services.a',
        'services.A',
        'services.a-1',
      ];

      beforeEach(async () => {
        for (const k of keys) await store.create(k, { k });
      });

      it('returns entries with a plain string prefix, in key order', async () => {
        const got = (await store.list<{ k: string }>('services.a')).map((e) => e.key);
        expect(got).toEqual(['services.a', 'services.a-1', 'services.a.x', 'services.ab']);
      });

      it('does not match services.ab when listing services.a.', async () => {
        const got = await store.list<{ k: string }>('services.a.');
        expect(got).toEqual([
          { key: 'services.a.x', value: { k: 'services.a.x' }, revision: expect.any(Number) },
        ]);
      });

      it('lists everything with an empty prefix, sorted by key', async () => {
        const got = (await store.list('')).map((e) => e.key);
        expect(got).toEqual([...keys].sort());
      });

      it('returns nothing for an unknown prefix and reflects deletes', async () => {
        expect(await store.list('nothing.')).toEqual([]);
        await store.delete('services.b');
        expect((await store.list('services.b')).length).toBe(0);
      });
    });

    describe('values', () => {
      it('round-trip as JSON, including nested objects, arrays and null', async () => {
        const value = {
          name: 'web',
          replicas: 3,
          ratio: 0.25,
          on: true,
          none: null,
          tags: ['a', 'b', { deep: [1, [2, { deeper: 'ü ✓ 😀' }]] }],
          env: { A: '1', nested: { x: { y: { z: -1 } } } },
        };
        await store.create('v.obj', value);
        await store.create('v.str', 'text');
        await store.create('v.num', 42);
        await store.create('v.null', null);
        await store.create('v.arr', [1, 'two']);
        expect((await store.get('v.obj'))?.value).toEqual(value);
        expect((await store.get('v.str'))?.value).toBe('text');
        expect((await store.get('v.num'))?.value).toBe(42);
        expect((await store.get('v.null'))?.value).toBeNull();
        expect((await store.get('v.arr'))?.value).toEqual([1, 'two']);
        expect((await store.list('v.obj'))[0]?.value).toEqual(value);
      });

      it('are copies: changing what was written or read does not change the store', async () => {
        const value = { list: [1] };
        await store.create('k', value);
        value.list.push(2);
        const read = await store.get<{ list: number[] }>('k');
        read!.value.list.push(3);
        expect((await store.get('k'))?.value).toEqual({ list: [1] });
      });

      it('refuses values JSON cannot carry', async () => {
        await expect(store.create('k', undefined)).rejects.toMatchObject({ code: 'BAD_INPUT' });
        await expect(store.create('k', 10n)).rejects.toMatchObject({ code: 'BAD_INPUT' });
        expect(await store.get('k')).toBeUndefined();
      });
    });

    describe('keys', () => {
      it.each(['', '.a', 'a.', 'a..b', 'a b', 'a/b', 'a*', 'services.>'])(
        'refuses the key %j',
        async (key) => {
          await expect(store.create(key, 1)).rejects.toMatchObject({ code: 'BAD_INPUT' });
          await expect(store.get(key)).rejects.toMatchObject({ code: 'BAD_INPUT' });
          await expect(store.append(key, 1)).rejects.toMatchObject({ code: 'BAD_INPUT' });
        },
      );

      it('accepts letters, digits, _ and - in dot-separated tokens', async () => {
        await store.create('Ab_9-x.y.000001', 1);
        expect((await store.get('Ab_9-x.y.000001'))?.value).toBe(1);
      });
    });

    describe('logs', () => {
      it('number records 1, 2, 3 within each log', async () => {
        expect(await store.append('journal.d1', { step: 1 })).toBe(1);
        expect(await store.append('journal.d2', { step: 1 })).toBe(1);
        expect(await store.append('journal.d1', { step: 2 })).toBe(2);
        expect(await store.append('journal.d1', { step: 3 })).toBe(3);
        const got = await store.read<{ step: number }>('journal.d1');
        expect(got.map((r) => [r.seq, r.value.step])).toEqual([
          [1, 1],
          [2, 2],
          [3, 3],
        ]);
        expect((await store.read('journal.d2')).map((r) => r.seq)).toEqual([1]);
        for (const r of got) expect(new Date(r.at).toISOString()).toBe(r.at);
      });

      it('read from a sequence number with a limit', async () => {
        for (let i = 1; i <= 5; i++) await store.append('audit', { i });
        const seqs = async (opts: { from?: number; limit?: number }) =>
          (await store.read('audit', opts)).map((r) => r.seq);
        expect(await seqs({})).toEqual([1, 2, 3, 4, 5]);
        expect(await seqs({ from: 2, limit: 2 })).toEqual([2, 3]);
        expect(await seqs({ from: 4 })).toEqual([4, 5]);
        expect(await seqs({ limit: 1 })).toEqual([1]);
        expect(await seqs({ limit: 0 })).toEqual([]);
        expect(await seqs({ from: 6 })).toEqual([]);
        expect(await seqs({ from: 0, limit: 2 })).toEqual([1, 2]);
      });

      it('read of an unknown log is empty, and logs are separate from keys', async () => {
        expect(await store.read('journal.none')).toEqual([]);
        await store.append('audit', { nested: { a: [1, null] } });
        expect(await store.get('audit')).toBeUndefined();
        expect(await store.list('')).toEqual([]);
        expect((await store.read('audit'))[0]?.value).toEqual({ nested: { a: [1, null] } });
      });
    });

    it('close can be called twice', async () => {
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });

    it('agrees with a Map model over random create / update / delete sequences', async () => {
      const key = fc.constantFrom('m.a', 'm.b', 'm.c', 'm.a.x');
      const op = fc.oneof(
        fc.record({ kind: fc.constant('create' as const), key, value: fc.jsonValue() }),
        fc.record({
          kind: fc.constant('update' as const),
          key,
          value: fc.jsonValue(),
          stale: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: -5, max: 5 })),
        }),
        fc.record({
          kind: fc.constant('delete' as const),
          key,
          expected: fc.boolean(),
          stale: fc.integer({ min: 0, max: 2 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
          const { store: s, cleanup: done } = await make();
          try {
            const model = new Map<string, { value: unknown; revision: number }>();
            let last = 0;
            const written = (rev: number) => {
              expect(rev).toBeGreaterThan(last);
              last = rev;
              return rev;
            };
            for (const o of ops) {
              const cur = model.get(o.key);
              if (o.kind === 'create') {
                if (cur) await expect(s.create(o.key, o.value)).rejects.toMatchObject(conflict);
                else model.set(o.key, { value: o.value, revision: written(await s.create(o.key, o.value)) });
              } else if (o.kind === 'update') {
                const expected = (cur?.revision ?? 1) - o.stale;
                if (cur && expected === cur.revision) {
                  model.set(o.key, {
                    value: o.value,
                    revision: written(await s.update(o.key, o.value, expected)),
                  });
                } else await expect(s.update(o.key, o.value, expected)).rejects.toMatchObject(conflict);
              } else if (!o.expected) {
                await s.delete(o.key);
                model.delete(o.key);
              } else {
                const expected = (cur?.revision ?? 1) - o.stale;
                if (cur && expected === cur.revision) {
                  await s.delete(o.key, expected);
                  model.delete(o.key);
                } else await expect(s.delete(o.key, expected)).rejects.toMatchObject(conflict);
              }
              const want = [...model]
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([k, v]) => ({ key: k, ...v }));
              // JSON drops -0 and undefined the same way in every store, so compare through JSON.
              expect(JSON.parse(JSON.stringify(await s.list('m.')))).toEqual(
                JSON.parse(JSON.stringify(want)),
              );
            }
          } finally {
            await done();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
