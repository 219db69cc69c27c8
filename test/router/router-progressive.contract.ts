import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BackendStatus, RevisionSplit, Router } from '../../src/router/router.js';
import { freePort } from './helpers.js';
import { caseFor, type RouterLimits, type RouterUnderTest } from './router.contract.js';

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

/**
 * Progressive delivery semantics every Router must have (standby backends, revision split, preview,
 * modes); run from `runRouterContract`.
 */
export function runProgressiveContract(
  name: string,
  make: () => Promise<RouterUnderTest>,
  limits: RouterLimits = {},
): void {
  const needsPreview = caseFor(name, [limits.noPreview]);
  const needsHold = caseFor(name, [limits.noHold]);
  const needsBoth = caseFor(name, [limits.noPreview, limits.noHold]);
  describe(`Router contract, progressive delivery: ${name}`, () => {
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

    needsPreview('setPreview is reflected in status, repeatable; bad revisions are refused', async () => {
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

    needsHold('setMode is reflected in status, repeatable; bad modes are refused', async () => {
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

    needsPreview(
      'ensureRoute with a preview address shows it, moves it and drops it; conflicts are refused',
      async () => {
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
      },
    );

    needsPreview('ensureRoute keeps split, preview revision, mode and standby states', async () => {
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

    needsBoth('removeRoute forgets split, preview revision and mode', async () => {
      await r.setSplit(S, split);
      await r.setPreview(S, 2);
      await r.setMode(S, { kind: 'hold', maxMs: 1000 });
      await r.removeRoute(S);
      await r.ensureRoute({ service: S, listen, drainTimeoutMs: 1000 });
      expect(await r.status(S)).toMatchObject({
        split: null,
        previewRevision: null,
        mode: { kind: 'serve' },
      });
    });
  });
}
