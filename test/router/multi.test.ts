import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { routerKey } from '../../src/router/create.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { MultiRouter } from '../../src/router/multi.js';
import type { RouterSpec } from '../../src/spec/router.js';

const haproxy = (sockets: string[], reconcileInterval = 1000): RouterSpec => ({
  kind: 'haproxy',
  sockets,
  serverOptions: 'check',
  removeTimeout: 1000,
  reconcileInterval,
});

/** A FakeRouter that counts reconcile calls and reports what it is told to. */
class ReconcilingFake extends FakeRouter {
  reconciles = 0;
  report: object[] = [];
  async reconcile(): Promise<object[]> {
    this.reconciles++;
    return this.report;
  }
}

function multi() {
  const made: Array<{ spec: RouterSpec; router: ReconcilingFake }> = [];
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
  const router = new MultiRouter({
    make: (spec) => {
      const r = new ReconcilingFake();
      made.push({ spec, router: r });
      return r;
    },
    key: routerKey,
    logger,
  });
  const of = (kind: string) => made.filter((m) => m.spec.kind === kind).map((m) => m.router);
  return { router, made, of, lines };
}

const route = (service: string, router?: RouterSpec) => ({
  service,
  listen: `127.0.0.1:${1000 + service.charCodeAt(0)}`,
  drainTimeoutMs: 1000,
  ...(router ? { router } : {}),
});
const backend = (id: string) => ({ id, address: '127.0.0.1:2', revision: 1 });

describe('MultiRouter: each service through the router its spec names', () => {
  it('routes every call of a service to its driver; one driver per HAProxy fleet, created on first need', async () => {
    const { router, made, of } = multi();
    await router.ensureRoute(route('a'));
    await router.ensureRoute(route('b', haproxy(['/x.sock', '/y.sock'])));
    // Same sockets in another order: the same fleet, the same driver.
    await router.ensureRoute(route('c', haproxy(['/y.sock', '/x.sock'])));
    expect(made.map((m) => m.spec.kind)).toEqual(['proxy', 'haproxy']);
    await router.addBackends('b', [backend('b1')]);
    await router.addBackends('a', [backend('a1')]);
    expect((await of('haproxy')[0]!.status('b'))?.backends.map((x) => x.id)).toEqual(['b1']);
    expect(await of('proxy')[0]!.status('b')).toBeUndefined();
    expect((await router.status('a'))?.backends.map((x) => x.id)).toEqual(['a1']);
  });

  it('bind() at start sends status and supervision to the serving revision’s router before any deploy', async () => {
    const { router, of } = multi();
    router.bind('b', haproxy(['/x.sock']));
    await of('haproxy')[0]!.ensureRoute(route('b'));
    await of('haproxy')[0]!.addBackends('b', [backend('b1')]);
    expect((await router.status('b'))?.backends).toHaveLength(1);
  });

  it('refuses to move a service that still has backends to another router; moves an empty one', async () => {
    const { router, of } = multi();
    await router.ensureRoute(route('a'));
    await router.addBackends('a', [backend('a1')]);
    await expect(router.ensureRoute(route('a', haproxy(['/x.sock'])))).rejects.toThrow(InputError);
    await expect(router.ensureRoute(route('a', haproxy(['/x.sock'])))).rejects.toThrow(
      /served through router proxy \(1 backend\(s\)\); to move it to haproxy, stop it first/,
    );
    expect((await router.status('a'))?.backends).toHaveLength(1);
    await router.removeBackends('a', ['a1']);
    await router.ensureRoute(route('a', haproxy(['/x.sock'])));
    expect(await of('proxy')[0]!.status('a')).toBeUndefined();
    expect(await router.status('a')).toBeDefined();
  });

  it('reconcile runs each driver at its own interval and logs a reload it repaired', async () => {
    const { router, of, lines } = multi();
    await router.ensureRoute(route('a'));
    await router.ensureRoute(route('b', haproxy(['/x.sock'], 1000)));
    const h = of('haproxy')[0]!;
    for (const t of [0, 400, 999]) await router.reconcile(10_000 + t);
    expect(h.reconciles).toBe(1);
    h.report = [{ socket: '/x.sock', reloaded: true, restored: { b: ['b1'] } }];
    await router.reconcile(11_000);
    expect(h.reconciles).toBe(2);
    // A driver without an interval (the fake proxy here) is asked at every tick.
    expect(of('proxy')[0]!.reconciles).toBe(4);
    expect(lines.join('')).toMatch(/re-applied them/);
  });
});
