import { afterEach, describe, expect, it } from 'vitest';
import { httpGet } from '../helpers/http.js';
import { type OciEngine, ociEngine, ociService } from './oci-harness.js';

/**
 * deploy-inst's flow (seed 000) through Baton's ENGINE: `baton deploy` of a runtime oci + router oci-lb
 * service, v1 → v2, with the calls the fake recorded in order; and its failures, rolled back with v1
 * still serving and the history saying why.
 */
describe('engine × OCI: the deploy-inst flow and its failures', () => {
  let env: OciEngine;
  afterEach(async () => env.close());

  const serving = () => env.backends().filter((b) => !b[1] && !b[2]);

  it('v1 → v2: every call, in order', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    const [v1] = await env.deps.runtime.list('web');
    env.fake.calls.length = 0;
    env.fake.lb.healthOf = () => ['404', 'CRITICAL', 'OK'];
    const t0 = env.clock.now();
    const r = await env.deploy(ociService('v2'));
    expect(r).toMatchObject({ ok: true, revision: 2 });
    expect(env.fake.ops()).toEqual([
      // ensure-route: the load balancer (known from the state file) has the backend set
      'GetLoadBalancer',
      // plan: the old instance by tag (the list lags; the one this runtime made is read by OCID)
      'ListContainerInstances',
      'GetContainerInstance',
      // 1. create the new instance (not found by tag first) and wait until ACTIVE, then its private IP
      'ListContainerInstances',
      'CreateContainerInstance',
      'GetContainerInstance',
      'GetVnic',
      // await-healthy (gated by the load balancer), then the switch reads the instance's address
      'GetContainerInstance',
      // 2–4. the existing backends, a backend for the new instance, its work request
      'GetLoadBalancer',
      'CreateBackend',
      'GetWorkRequest',
      // 5. health until OK (404 while created, CRITICAL, OK)
      'GetBackendHealth',
      // 6. drain the old backend (its work request), then the drain period
      'UpdateBackend',
      'GetWorkRequest',
      'GetLoadBalancer',
      // 6. delete the old backend
      'DeleteBackend',
      'GetWorkRequest',
      // 7. delete the old instance: marked stopped, stopped (SIGTERM), deleted
      'GetContainerInstance',
      'UpdateContainerInstance',
      'StopContainerInstance',
      'GetContainerInstance',
      'DeleteContainerInstance',
      'GetContainerInstance',
    ]);
    expect(env.fake.calls.filter((c) => c.op === 'GetBackendHealth').map((c) => c.status)).toEqual([
      404, 200, 200,
    ]);
    const drain = env.fake.calls.find((c) => c.op === 'UpdateBackend')!;
    expect(drain.path).toContain(encodeURIComponent(`${v1!.host}:8080`));
    expect(drain.body).toEqual({ weight: 1, backup: false, drain: true, offline: false });
    // The 10 s drain period passed (virtual time) before the old backend was deleted.
    expect(env.clock.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(env.live()).toEqual([2]);
    const [v2] = await env.deps.runtime.list('web');
    expect(serving()).toEqual([[v2!.host, false, false, 1]]);
    expect((await httpGet(v2!.host, v2!.port, '/')).body).toContain('hello from v2');
    const journal = await env.deps.repo.readJournal(r.deployment);
    expect(journal.filter((j) => j.phase === 'done').map((j) => j.op)).toEqual([
      'start',
      'await-healthy',
      'switch',
      'drain',
      'stop',
    ]);
  });

  it('with 30 % of calls failing (429 with Retry-After, 500), the deploy completes with exactly one new instance', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    env.fake.inject({ rate: 0.3, statuses: [429, 500], retryAfterSeconds: 2, seed: 11 });
    env.fake.failNext('CreateContainerInstance', { status: 500, after: true });
    const r = await env.deploy(ociService('v2'));
    env.fake.inject(null);
    expect(r).toMatchObject({ ok: true, revision: 2 });
    expect(env.fake.calls.filter((c) => c.fault).length).toBeGreaterThanOrEqual(5);
    expect(env.fake.ci.live({ 'baton-revision': '2' })).toHaveLength(1);
    expect(env.live()).toEqual([2]);
    expect(serving()).toHaveLength(1);
  });

  it('a new instance that goes FAILED: rolled back, v1 still serving, the history says why', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    const before = env.backends();
    env.fake.ci.failWhen = (d) =>
      String(d.displayName).includes('-r2-')
        ? 'container app exited during startup (exit code 1)'
        : undefined;
    const r = await env.deploy(ociService('v2'));
    expect(r).toMatchObject({ ok: false, state: 'rolled-back', revision: 2 });
    expect(r.message).toMatch(
      /FAILED: container app exited during startup \(exit code 1\); rolled back, revision 1 keeps serving$/,
    );
    expect(env.backends()).toEqual(before);
    // The failed instance is deleted by the rollback; v1 is the only one alive.
    expect(env.live()).toEqual([1]);
    const [v1] = await env.deps.runtime.list('web');
    expect((await httpGet(v1!.host, v1!.port, '/')).body).toContain('hello from v1');
    const rev = await env.deps.repo.getRevision('web', 2);
    expect(rev).toMatchObject({ status: 'failed' });
    expect(JSON.stringify(rev)).toContain('exited during startup');
    const [last] = await env.deps.repo.listDeployments('web', { limit: 1 });
    expect(last).toMatchObject({ state: 'rolled-back', error: expect.stringContaining('FAILED') });
    expect((await env.deps.repo.getService('web'))?.current).toBe(1);
  });

  it('new backends that never become OK: rolled back after the health timeout, v1 still serving, history says why', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    const before = env.backends();
    env.fake.lb.healthOf = () => ['404', 'CRITICAL'];
    const r = await env.deploy(ociService('v2'));
    expect(r).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(r.message).toMatch(
      /backend 127\.\d+\.\d+\.\d+:8080 \(web-r2-\S+\) in backend set http not OK after 120000 ms: last health CRITICAL/,
    );
    // v1's backend was never drained: the new one is removed, v1 is as it was.
    expect(env.backends()).toEqual(before);
    expect(env.live()).toEqual([1]);
    const [last] = await env.deps.repo.listDeployments('web', { limit: 1 });
    expect(last?.error).toMatch(/not OK after 120000 ms/);
    expect((await env.deps.repo.getRevision('web', 2))?.status).toBe('failed');
  });
});
