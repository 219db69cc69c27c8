import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BackendStatus, RevisionSplit, Router } from '../../src/router/router.js';
import { freePort } from './helpers.js';

export interface RouterUnderTest {
  router: Router;
  cleanup: () => Promise<void>;
}

const S = 'web';
const a: Backend = { id: 'a', address: '127.0.0.1:9101', revision: 1 };
const b: Backend = { id: 'b', address: '127.0.0.1:9102', revision: 1, weight: 2 };
const c: Backend = { id: 'c', address: '127.0.0.1:9103', revision: 2 };

const d: Backend = { id: 'd', address: '127.0.0.1:9104', revision: 2 };
const split: RevisionSplit = {
  weights: [
    { revision: 1, percent: 90 },
    { revision: 2, percent: 10 },
  ],
  canary: 2,
  stable: 1,
  sticky: true,
};

const byId = (list: BackendStatus[] | undefined): Record<string, BackendStatus> =>
  Object.fromEntries((list ?? []).map((x) => [x.id, x]));

/** Semantics every Router must have; run by each implementation's test file. */
export function runRouterContract(name: string, make: () => Promise<RouterUnderTest>): void {
  describe(`Router contract: ${name}`, () => {
    let ut: RouterUnderTest;
    let r: Router;
    let listen: string;

    beforeEach(async () => {
      ut = await make();
      r = ut.router;
      listen = `127.0.0.1:${await freePort()}`;
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000 });
    });
    afterEach(async () => {
      await r.close();
      await ut.cleanup();
    });

    it('status of an unknown service is undefined', async () => {
      expect(await r.status('nope')).toBeUndefined();
    });

    it('ensureRoute creates an empty route and is idempotent, keeping backends', async () => {
      expect(await r.status(S)).toMatchObject({ service: S, listen, backends: [] });
      await r.addBackends(S, [a]);
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 2000 });
      const st = await r.status(S);
      expect(st?.backends.map((x) => x.id)).toEqual(['a']);
    });

    it('ensureRoute refuses a listen address used by another service', async () => {
      await expect(r.ensureRoute({ service: 'other', listen, drainTimeoutMs: 1000 })).rejects.toMatchObject({
        code: 'BAD_INPUT',
      });
      expect(await r.status('other')).toBeUndefined();
    });

    it('addBackends adds active, healthy backends; repeating it changes nothing', async () => {
      await r.addBackends(S, [a, b]);
      await r.addBackends(S, [a, b]);
      const st = await r.status(S);
      expect(st?.backends).toEqual([
        { ...a, weight: 1, state: 'active', healthy: true, inFlight: 0, websockets: 0, requests: 0 },
        { ...b, state: 'active', healthy: true, inFlight: 0, websockets: 0, requests: 0 },
      ]);
      expect(st?.revisions.map((x) => [x.revision, x.requests, x.errors])).toEqual([[1, 0, 0]]);
      const lat = st?.revisions[0]?.latency;
      expect(lat?.counts.length).toBe((lat?.bounds.length ?? 0) + 1);
    });

    it('addBackends and switchTo on an unknown service fail with NOT_FOUND', async () => {
      await expect(r.addBackends('nope', [a])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(r.switchTo('nope', ['a'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('switchTo makes exactly those active and every other backend draining; repeatable', async () => {
      await r.addBackends(S, [a, b, c]);
      for (let i = 0; i < 2; i++) {
        await r.switchTo(S, ['c']);
        const st = byId((await r.status(S))?.backends);
        expect([st.a?.state, st.b?.state, st.c?.state]).toEqual(['draining', 'draining', 'active']);
      }
      await r.switchTo(S, ['a', 'b']);
      const st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.b?.state, st.c?.state]).toEqual(['active', 'active', 'draining']);
    });

    it('switchTo with new backends adds them and switches in one update; repeatable', async () => {
      await r.addBackends(S, [a, b]);
      for (let i = 0; i < 2; i++) {
        await r.switchTo(S, ['c'], [c]);
        const st = byId((await r.status(S))?.backends);
        expect([st.a?.state, st.b?.state, st.c?.state]).toEqual(['draining', 'draining', 'active']);
        expect(st.c?.address).toBe(c.address);
      }
      await expect(r.switchTo(S, ['zz'], [c])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('switchTo to an unknown backend fails and changes nothing', async () => {
      await r.addBackends(S, [a, c]);
      await expect(r.switchTo(S, ['c', 'zz'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.c?.state]).toEqual(['active', 'active']);
    });

    it('addBackends makes a draining backend active again', async () => {
      await r.addBackends(S, [a, c]);
      await r.switchTo(S, ['c']);
      await r.addBackends(S, [a]);
      const st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.c?.state]).toEqual(['active', 'active']);
    });

    it('drain stops new requests; repeatable; unknown ids are ignored', async () => {
      await r.addBackends(S, [a, b]);
      await r.drain(S, ['a']);
      await r.drain(S, ['a', 'gone']);
      await r.drain('nope', ['a']);
      const st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.b?.state]).toEqual(['draining', 'active']);
    });

    it('waitDrained with no traffic resolves drained at once', async () => {
      await r.addBackends(S, [a, b]);
      await r.drain(S, ['a']);
      const res = await r.waitDrained(S, ['a'], 5000);
      expect(res).toMatchObject({ drained: true, inFlight: 0 });
      expect(res.waitedMs).toBeLessThan(1000);
      expect(await r.waitDrained(S, ['gone'], 5000)).toMatchObject({ drained: true, inFlight: 0 });
      expect(await r.waitDrained('nope', ['a'], 5000)).toMatchObject({ drained: true, inFlight: 0 });
    });

    it('removeBackends forgets them (and their revision counters); repeatable', async () => {
      await r.addBackends(S, [a, b, c]);
      await r.switchTo(S, ['a', 'b']);
      await r.removeBackends(S, ['c']);
      await r.removeBackends(S, ['c']);
      await r.removeBackends('nope', ['c']);
      const st = await r.status(S);
      expect(st?.backends.map((x) => x.id)).toEqual(['a', 'b']);
      expect(st?.revisions.map((x) => x.revision)).toEqual([1]);
    });

    it('setHealthy flips health; repeatable; unknown backends are ignored', async () => {
      await r.addBackends(S, [a, b]);
      await r.setHealthy(S, 'a', false);
      await r.setHealthy(S, 'a', false);
      expect(byId((await r.status(S))?.backends).a?.healthy).toBe(false);
      await r.setHealthy(S, 'a', true);
      await r.setHealthy(S, 'gone', true);
      await r.setHealthy('nope', 'a', true);
      expect(byId((await r.status(S))?.backends).a?.healthy).toBe(true);
      await r.setHealthy(S, 'b', false);
      await r.addBackends(S, [b]);
      expect(byId((await r.status(S))?.backends).b?.healthy).toBe(false);
    });

    it('removeRoute forgets the service; repeatable', async () => {
      await r.addBackends(S, [a]);
      await r.removeRoute(S);
      await r.removeRoute(S);
      expect(await r.status(S)).toBeUndefined();
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000 });
      expect((await r.status(S))?.backends).toEqual([]);
    });

    it('status starts with no split, no preview revision, serving, nothing held', async () => {
      expect(await r.status(S)).toMatchObject({
        split: null,
        previewRevision: null,
        mode: { kind: 'serve' },
        held: 0,
      });
      expect((await r.status(S))?.preview).toBeUndefined();
    });

    it('addBackends with standby adds them in standby; without it they become active; repeatable', async () => {
      await r.addBackends(S, [a]);
      for (let i = 0; i < 2; i++) await r.addBackends(S, [c, d], { standby: true });
      let st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.c?.state, st.d?.state]).toEqual(['active', 'standby', 'standby']);
      expect(st.c).toMatchObject({ healthy: true, inFlight: 0, requests: 0, weight: 1 });
      await r.addBackends(S, [c]);
      await r.addBackends(S, [a], { standby: true });
      st = byId((await r.status(S))?.backends);
      expect([st.a?.state, st.c?.state, st.d?.state]).toEqual(['standby', 'active', 'standby']);
      await r.drain(S, ['d']);
      await r.addBackends(S, [d]);
      expect(byId((await r.status(S))?.backends).d?.state).toBe('active');
    });

    it('switchTo makes listed standby backends active and every other one draining, standby included', async () => {
      await r.addBackends(S, [a, b]);
      await r.addBackends(S, [c, d], { standby: true });
      for (let i = 0; i < 2; i++) {
        await r.switchTo(S, ['c']);
        const st = byId((await r.status(S))?.backends);
        expect([st.a?.state, st.b?.state, st.c?.state, st.d?.state]).toEqual([
          'draining',
          'draining',
          'active',
          'draining',
        ]);
      }
    });

    it('setSplit is reflected in status, repeatable, and null removes it', async () => {
      await r.addBackends(S, [a, c]);
      for (let i = 0; i < 2; i++) {
        await r.setSplit(S, split);
        expect((await r.status(S))?.split).toEqual(split);
      }
      const plain: RevisionSplit = { weights: [{ revision: 1, percent: 100 }], sticky: false };
      await r.setSplit(S, plain);
      expect((await r.status(S))?.split).toEqual(plain);
      await r.setSplit(S, null);
      await r.setSplit(S, null);
      expect((await r.status(S))?.split).toBeNull();
    });

    it('setSplit refuses bad input with BAD_INPUT and changes nothing', async () => {
      await r.setSplit(S, split);
      const bad: unknown[] = [
        { weights: [], sticky: false },
        { weights: [{ revision: 1, percent: 90 }], sticky: false },
        {
          weights: [
            { revision: 1, percent: 50.5 },
            { revision: 2, percent: 49.5 },
          ],
          sticky: false,
        },
        {
          weights: [
            { revision: 1, percent: 101 },
            { revision: 2, percent: -1 },
          ],
          sticky: false,
        },
        {
          weights: [
            { revision: 1, percent: 50 },
            { revision: 1, percent: 50 },
          ],
          sticky: false,
        },
        { weights: [{ revision: -1, percent: 100 }], sticky: false },
        { weights: [{ revision: 1, percent: 100 }], canary: 'two', sticky: false },
        { weights: [{ revision: 1, percent: 100 }], sticky: 'yes' },
        'all',
      ];
      for (const x of bad) {
        await expect(r.setSplit(S, x as RevisionSplit), JSON.stringify(x)).rejects.toMatchObject({
          code: 'BAD_INPUT',
        });
      }
      await expect(r.setSplit(S, bad[1] as RevisionSplit)).rejects.toThrow(/sum to 90, not 100/);
      expect((await r.status(S))?.split).toEqual(split);
    });

    it('setPreview is reflected in status, repeatable; bad revisions are refused', async () => {
      for (let i = 0; i < 2; i++) {
        await r.setPreview(S, 2);
        expect((await r.status(S))?.previewRevision).toBe(2);
      }
      await expect(r.setPreview(S, -3)).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(r.setPreview(S, 1.5)).rejects.toMatchObject({ code: 'BAD_INPUT' });
      expect((await r.status(S))?.previewRevision).toBe(2);
      await r.setPreview(S, null);
      expect((await r.status(S))?.previewRevision).toBeNull();
    });

    it('setMode is reflected in status, repeatable; bad modes are refused', async () => {
      for (const mode of [
        { kind: 'maintenance' as const },
        { kind: 'maintenance' as const, body: 'back soon' },
        { kind: 'hold' as const, maxMs: 5000 },
        { kind: 'serve' as const },
      ]) {
        await r.setMode(S, mode);
        await r.setMode(S, mode);
        expect(await r.status(S)).toMatchObject({ mode, held: 0 });
      }
      await r.setMode(S, { kind: 'maintenance' });
      for (const bad of [
        { kind: 'hold', maxMs: 0 },
        { kind: 'hold' },
        { kind: 'pause' },
        { kind: 'maintenance', body: 7 },
      ]) {
        await expect(r.setMode(S, bad as never), JSON.stringify(bad)).rejects.toMatchObject({
          code: 'BAD_INPUT',
        });
      }
      expect((await r.status(S))?.mode).toEqual({ kind: 'maintenance' });
    });

    it('setSplit, setPreview and setMode on an unknown service fail with NOT_FOUND', async () => {
      await expect(r.setSplit('nope', split)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(r.setPreview('nope', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(r.setMode('nope', { kind: 'serve' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('ensureRoute with a preview address shows it, moves it and drops it; conflicts are refused', async () => {
      const preview = `127.0.0.1:${await freePort()}`;
      for (let i = 0; i < 2; i++) {
        await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000, preview });
        expect((await r.status(S))?.preview).toBe(preview);
      }
      await expect(
        r.ensureRoute({ service: 'other', listen: preview, drainTimeoutMs: 1000 }),
      ).rejects.toMatchObject({ code: 'BAD_INPUT' });
      const otherListen = `127.0.0.1:${await freePort()}`;
      await expect(
        r.ensureRoute({ service: 'other', listen: otherListen, drainTimeoutMs: 1000, preview: listen }),
      ).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(
        r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000, preview: listen }),
      ).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(
        r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000, preview: 'nowhere' }),
      ).rejects.toMatchObject({ code: 'BAD_INPUT' });
      expect((await r.status(S))?.preview).toBe(preview);
      const moved = `127.0.0.1:${await freePort()}`;
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000, preview: moved });
      expect((await r.status(S))?.preview).toBe(moved);
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000 });
      expect((await r.status(S))?.preview).toBeUndefined();
      expect(await r.status('other')).toBeUndefined();
    });

    it('ensureRoute keeps split, preview revision, mode and standby states', async () => {
      await r.addBackends(S, [c], { standby: true });
      await r.setSplit(S, split);
      await r.setPreview(S, 2);
      await r.setMode(S, { kind: 'maintenance', body: 'x' });
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 500 });
      expect(await r.status(S)).toMatchObject({
        split,
        previewRevision: 2,
        mode: { kind: 'maintenance', body: 'x' },
        backends: [{ id: 'c', state: 'standby' }],
      });
    });
  });
}
