import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BackendStatus, Router } from '../../src/router/router.js';
import { freePort } from './helpers.js';
import { runProgressiveContract } from './router-progressive.contract.js';

export interface RouterUnderTest {
  router: Router;
  cleanup: () => Promise<void>;
}

/**
 * What a router cannot do, each with the reason: the contract cases that need it are skipped for that
 * router, with the reason in the test name (never silently). Proxy and fake pass none and run every case.
 */
export interface RouterLimits {
  /** No preview listener (`RouteConfig.preview`, `setPreview` with a revision). */
  noPreview?: string | undefined;
  /** No `hold` mode. */
  noHold?: string | undefined;
}

/** `it`, or `it.skip` with the reasons appended to the name when a limit applies. */
export function caseFor(
  name: string,
  reasons: Array<string | undefined>,
): (title: string, fn: () => Promise<void>) => void {
  const why = reasons.filter((r): r is string => r !== undefined);
  if (why.length === 0) return (title, fn) => it(title, fn);
  return (title, fn) => it.skip(`${title} — SKIPPED for ${name}: ${why.join('; ')}`, fn);
}

const S = 'web';
const a: Backend = { id: 'a', address: '127.0.0.1:9101', revision: 1 };
const b: Backend = { id: 'b', address: '127.0.0.1:9102', revision: 1, weight: 2 };
const c: Backend = { id: 'c', address: '127.0.0.1:9103', revision: 2 };

const byId = (list: BackendStatus[] | undefined): Record<string, BackendStatus> =>
  Object.fromEntries((list ?? []).map((x) => [x.id, x]));

/** Semantics every Router must have; run by each implementation's test file. */
export function runRouterContract(
  name: string,
  make: () => Promise<RouterUnderTest>,
  limits: RouterLimits = {},
): void {
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
      // A timeout far beyond the test's own: only a wait that ends when drained (not at the timeout)
      // lets the test finish, and it reports a wait shorter than the timeout, whatever the machine's load.
      const res = await r.waitDrained(S, ['a'], 3_600_000);
      expect(res).toMatchObject({ drained: true, inFlight: 0 });
      expect(res.waitedMs).toBeLessThan(3_600_000);
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
  });
  runProgressiveContract(name, make, limits);
}
