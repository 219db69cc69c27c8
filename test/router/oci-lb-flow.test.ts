import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import type { OciClients } from '../../src/cloud/oci/clients.js';
import { CallLog } from '../../src/cloud/planned.js';
import { address, type Instance } from '../../src/core/types.js';
import { OciLbRouter } from '../../src/router/oci-lb/router.js';
import { OciRuntime } from '../../src/runtime/oci/oci-runtime.js';
import type { StartRequest } from '../../src/runtime/runtime.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { FakeOci } from '../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../fakes/oci/load-balancer.js';
import { COMPARTMENT, clientsFor, ociSpec } from '../fakes/oci/setup.js';
import { httpGet } from '../helpers/http.js';

/**
 * deploy-inst's flow at driver level, with the calls the engine's `replace` plan makes (start →
 * await-healthy → switch → drain → stop; src/engine/steps.ts), through the real SDK clients against the
 * fake. Time is virtual: 5 s polls, a 10 s drain period and Retry-After waits take no real time.
 */
describe('deploy-inst flow: OCI Container Instance behind an OCI Load Balancer', () => {
  let fake: FakeOci;
  let clients: OciClients;
  let clock: VirtualClock;
  let runtime: OciRuntime;
  let router: OciLbRouter;
  let lb: FakeLoadBalancer;

  let dir: string;
  const settings = {
    kind: 'oci-lb' as const,
    filter: { displayName: 'edge', freeformTags: { env: 'prod' } },
    compartmentId: COMPARTMENT,
    backends: [{ port: 8080, backendSet: 'http' }],
    healthTimeout: '120s',
    pollInterval: '5s',
    drainPeriod: '10s',
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-oci-flow-'));
    fake = await FakeOci.start({ transitionGets: 2, listLag: 2 });
    clock = new VirtualClock();
    clients = clientsFor(fake, { clock });
    lb = fake.lb.add({ displayName: 'edge', compartmentId: COMPARTMENT, freeformTags: { env: 'prod' } });
    fake.lb.addBackendSet(lb, 'http');
    runtime = new OciRuntime({ clients, owner: 'flow', compartmentIds: [COMPARTMENT], pollIntervalMs: 5000 });
    router = new OciLbRouter({ clients, defaults: settings, stateFile: join(dir, 'oci-lb.json') });
    await router.ensureRoute({ service: 'web', listen: '192.0.2.10:80', drainTimeoutMs: 30_000 });
  });
  afterEach(async () => {
    await clients.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (revision: number): StartRequest => ({
    id: `web-r${revision}-d${revision}-1`,
    service: 'web',
    revision,
    deployment: `d${revision}`,
    spec: ociSpec({ VERSION: `v${revision}` }) as unknown as ServiceSpec,
  });
  const backendOf = (i: Instance) => ({ id: i.id, address: address(i), revision: i.revision });

  /** The engine's replace plan for one instance, with its rollback: the old one keeps serving. */
  async function deploy(
    revision: number,
    old: Instance | undefined,
    drivers: { runtime: OciRuntime; router: OciLbRouter; probe: boolean } = { runtime, router, probe: true },
  ): Promise<Instance> {
    const { runtime, router } = drivers;
    const req = request(revision);
    try {
      const next = await runtime.start(req);
      if (drivers.probe)
        expect((await httpGet(next.host, next.port, '/')).body).toContain(`hello from v${revision}`);
      await router.switchTo('web', [next.id], [backendOf(next)]);
      if (old) {
        await router.drain('web', [old.id]);
        expect(await router.waitDrained('web', [old.id], 30_000)).toMatchObject({ drained: true });
        await router.removeBackends('web', [old.id]);
        await runtime.stop(old.id, 5000);
        await runtime.remove(old.id);
      }
      return next;
    } catch (err) {
      await router.removeBackends('web', [req.id]);
      if (old) await router.addBackends('web', [backendOf(old)]);
      await runtime.stop(req.id, 5000);
      await runtime.remove(req.id);
      throw err;
    }
  }

  const backends = () =>
    [...lb.backendSets.get('http')!.backends.values()].map((b) => [b.name, b.drain, b.offline]);

  it('v1 → v2: every call, in order', async () => {
    const v1 = await deploy(1, undefined);
    fake.calls.length = 0;
    fake.lb.healthOf = () => ['404', 'CRITICAL', 'OK'];
    const t0 = clock.now();
    const v2 = await deploy(2, v1);
    expect(fake.ops()).toEqual([
      // start: not found by tag (the list lags anyway), created with a retry token, polled until ACTIVE
      'ListContainerInstances',
      'CreateContainerInstance',
      'GetContainerInstance',
      'GetVnic',
      // switch: create the backend, its work request to SUCCEEDED, health 404 → CRITICAL → OK, then drain v1
      'GetLoadBalancer',
      'CreateBackend',
      'GetWorkRequest',
      'GetBackendHealth',
      'UpdateBackend',
      'GetWorkRequest',
      // drain (already draining: read only), then the 10 s drain period
      'GetLoadBalancer',
      // stop: delete v1's backend, then stop (tagged first) and delete v1's instance
      'DeleteBackend',
      'GetWorkRequest',
      'GetContainerInstance',
      'UpdateContainerInstance',
      'StopContainerInstance',
      'GetContainerInstance',
      'DeleteContainerInstance',
      'GetContainerInstance',
    ]);
    const health = fake.calls.filter((c) => c.op === 'GetBackendHealth').map((c) => c.status);
    expect(health).toEqual([404, 200, 200]);
    const drain = fake.calls.find((c) => c.op === 'UpdateBackend')!;
    expect(drain.path).toBe(
      `/20170115/loadBalancers/${lb.id}/backendSets/http/backends/${encodeURIComponent(address(v1))}`,
    );
    expect(drain.body).toEqual({ weight: 1, backup: false, drain: true, offline: false });
    expect(backends()).toEqual([[`${v2.host}:8080`, false, false]]);
    expect(fake.ci.live().map((i) => i.freeformTags['baton-revision'])).toEqual(['2']);
    // Virtual time: 2 polls to ACTIVE, 2 of health, work requests, the 10 s drain period, stop and delete.
    expect(clock.now() - t0).toBeGreaterThanOrEqual(10_000);
  });

  it('with 30 % of calls failing (429 with Retry-After, 500, some after the change was made) the deploy completes with exactly one new instance', async () => {
    const v1 = await deploy(1, undefined);
    fake.calls.length = 0;
    fake.inject({ rate: 0.3, statuses: [429, 500], retryAfterSeconds: 2, seed: 7 });
    // And for sure: the create's answer is lost after the instance was made (the retry token's case).
    fake.failNext('CreateContainerInstance', { status: 500, after: true });
    const v2 = await deploy(2, v1);
    fake.inject(null);
    const faults = fake.calls.filter((c) => c.fault);
    expect(faults.length).toBeGreaterThanOrEqual(10);
    expect(faults.some((c) => c.fault === 'after' && c.op === 'CreateContainerInstance')).toBe(true);
    expect(new Set(faults.map((c) => c.status))).toEqual(new Set([429, 500]));
    expect(clock.sleeps.filter((ms) => ms >= 2000).length).toBeGreaterThanOrEqual(
      faults.filter((c) => c.status === 429).length,
    );
    expect(fake.ci.live({ 'baton-revision': '2' })).toHaveLength(1);
    expect(fake.ci.live().map((i) => i.id)).toEqual([fake.ci.live({ 'baton-revision': '2' })[0]!.id]);
    expect(backends()).toEqual([[`${v2.host}:8080`, false, false]]);
    expect((await httpGet(v2.host, v2.port, '/')).body).toContain('hello from v2');
  });

  it('a new instance that goes FAILED: a clear error, the load balancer untouched, v1 still serving', async () => {
    const v1 = await deploy(1, undefined);
    fake.calls.length = 0;
    fake.ci.failWhen = (d) =>
      (d.displayName as string).includes('-r2-')
        ? 'container app exited during startup (exit code 1)'
        : undefined;
    await expect(deploy(2, v1)).rejects.toThrow(
      /^oci: container instance web-r2-d2-1 \(.+\) FAILED: container app exited during startup \(exit code 1\)$/,
    );
    expect(
      fake
        .writes()
        .filter((c) => c.path.startsWith('/20170115'))
        .map((c) => c.op),
    ).toEqual([]);
    expect(backends()).toEqual([[`${v1.host}:8080`, false, false]]);
    expect(fake.ci.live().map((i) => i.freeformTags['baton-revision'])).toEqual(['1']);
    expect((await httpGet(v1.host, v1.port, '/')).body).toContain('hello from v1');
  });

  it('new backends that never become OK: a clear error after 120 s (virtual), new backend and instance removed, v1 still serving', async () => {
    const v1 = await deploy(1, undefined);
    fake.lb.healthOf = () => ['404', 'CRITICAL'];
    const err = await deploy(2, v1).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^oci-lb: backend 127\.\d+\.\d+\.\d+:8080 \(web-r2-d2-1\) in backend set http not OK after 120000 ms: last health CRITICAL$/,
    );
    expect(backends()).toEqual([[`${v1.host}:8080`, false, false]]);
    expect(fake.ci.live().map((i) => i.freeformTags['baton-revision'])).toEqual(['1']);
    expect((await router.status('web'))?.backends.map((b) => [b.id, b.state])).toEqual([[v1.id, 'active']]);
  });

  it('dry run (baton plan): every call v1 → v2 would make, from what exists, and not one write', async () => {
    const v1 = await deploy(1, undefined);
    // Some time later: the list has caught up (a fresh runtime finds v1 by its tags).
    for (const i of fake.ci.instances.values()) i.hiddenFromLists = 0;
    fake.calls.length = 0;
    const plan = new CallLog();
    const dry = {
      runtime: new OciRuntime({ clients, owner: 'flow', compartmentIds: [COMPARTMENT], dryRun: plan }),
      router: new OciLbRouter({
        clients,
        defaults: settings,
        stateFile: join(dir, 'oci-lb.json'),
        dryRun: plan,
      }),
      probe: false,
    };
    await dry.router.ensureRoute({ service: 'web', listen: '192.0.2.10:80', drainTimeoutMs: 30_000 });
    await deploy(2, v1, dry);
    expect(fake.writes()).toEqual([]);
    // Only reads: the load balancer (its id from the router's state file), the instances by tag, v1's IP.
    expect(fake.calls.every((c) => c.method === 'GET')).toBe(true);
    expect(fake.calls.map((c) => c.op)).toEqual(
      expect.arrayContaining(['GetLoadBalancer', 'ListContainerInstances']),
    );
    const old = fake.ci.live()[0]!.id;
    const be = `/20170115/loadBalancers/${lb.id}/backendSets/http/backends`;
    const lines = plan.lines();
    expect(plan.calls.map((c) => `${c.op} ${c.method ?? ''} ${c.path ?? ''}`.trim())).toEqual([
      'CreateContainerInstance POST /20210415/containerInstances',
      'GetVnic GET /20160918/vnics/{vnicId of the new instance}',
      `CreateBackend POST ${be}`,
      `GetBackendHealth GET ${be}/%3Cprivate-ip-of-web-r2-d2-1%3E%3A8080/health`,
      `UpdateBackend PUT ${be}/${encodeURIComponent(address(v1))}`,
      'Wait',
      `DeleteBackend DELETE ${be}/${encodeURIComponent(address(v1))}`,
      `UpdateContainerInstance PUT /20210415/containerInstances/${old}`,
      `StopContainerInstance POST /20210415/containerInstances/${old}/actions/stop`,
      `DeleteContainerInstance DELETE /20210415/containerInstances/${old}`,
    ]);
    expect(lines[0]).toMatch(
      /^CreateContainerInstance: POST \/20210415\/containerInstances \{.*"displayName":"web-r2-d2-1".*\} — then GetContainerInstance until ACTIVE \(FAILED aborts; at most 600000 ms\)$/,
    );
    expect(lines[4]).toBe(
      `UpdateBackend: PUT ${be}/${encodeURIComponent(address(v1))} {"weight":1,"backup":false,"drain":true,"offline":false} — then GetWorkRequest until SUCCEEDED`,
    );
    expect(lines[5]).toBe('Wait: — then drain period 10000 ms (OCI reports no connection counts)');
  });

  it('delete-only (what baton destroy will do): drain, wait, delete the backends, then the instance', async () => {
    const v1 = await deploy(1, undefined);
    fake.calls.length = 0;
    await router.drain('web', [v1.id]);
    expect(await router.waitDrained('web', [v1.id], 30_000)).toEqual({
      drained: true,
      inFlight: 0,
      waitedMs: 10_000,
    });
    await router.removeRoute('web');
    await runtime.stop(v1.id, 5000);
    await runtime.remove(v1.id);
    expect(fake.ops((c) => c.method !== 'GET')).toEqual([
      'UpdateBackend',
      'DeleteBackend',
      'UpdateContainerInstance',
      'StopContainerInstance',
      'DeleteContainerInstance',
    ]);
    expect(backends()).toEqual([]);
    expect(fake.ci.live()).toEqual([]);
    expect(await router.status('web')).toBeUndefined();
  });
});
