import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import { OciLbRouter } from '../../src/router/oci-lb/router.js';
import { healthCheckerFromProbe, type OciLbRouteInput } from '../../src/router/oci-lb/settings.js';
import { probeSchema } from '../../src/spec/schema.js';
import { FakeOci } from '../fakes/oci/fake-oci.js';
import { COMPARTMENT, clientsFor } from '../fakes/oci/setup.js';
import { runRouterContract } from './router.contract.js';

runRouterContract(
  'oci-lb',
  async () => {
    const fake = await FakeOci.start();
    const lb = fake.lb.add({
      displayName: 'edge',
      compartmentId: COMPARTMENT,
      freeformTags: { env: 'test' },
    });
    const router = new OciLbRouter({
      clients: clientsFor(fake),
      defaults: { kind: 'oci-lb', loadBalancerId: lb.id, pollInterval: 5, drainPeriod: 50 },
      workRequestPollMs: 2,
    });
    return { router, cleanup: () => fake.close() };
  },
  {
    noPreview: 'an OCI load balancer has no preview listener in this driver',
    noHold: 'an OCI load balancer cannot hold requests',
  },
);

describe('oci-lb router specifics', () => {
  let fake: FakeOci;
  afterEach(async () => {
    await fake.close();
  });
  const setup = async (settings: Partial<OciLbRouteInput> = {}) => {
    fake = await FakeOci.start();
    const clock = new VirtualClock();
    const lb = fake.lb.add({
      displayName: 'edge',
      compartmentId: COMPARTMENT,
      freeformTags: { env: 'prod' },
    });
    fake.lb.add({
      displayName: 'edge',
      compartmentId: COMPARTMENT,
      freeformTags: { env: 'prod', team: 'b' },
    });
    const router = new OciLbRouter({
      clients: clientsFor(fake, { clock }),
      defaults: {
        kind: 'oci-lb',
        filter: { displayName: 'edge', freeformTags: { env: 'prod' } },
        compartmentId: COMPARTMENT,
        backends: [
          { port: 8080, backendSet: 'http' },
          { port: 9090, backendSet: 'metrics' },
        ],
        ...settings,
      },
    });
    await router.ensureRoute({ service: 'web', listen: '192.0.2.10:80', drainTimeoutMs: 30_000 });
    return { router, lb, clock };
  };

  it('finds the load balancer by an exact filter (nested maps whole) and creates missing backend sets with a health checker', async () => {
    const { lb } = await setup({
      healthChecker: healthCheckerFromProbe(
        probeSchema.parse({ http: { path: '/healthz' }, interval: '2s', timeout: '1s' }),
      ),
    });
    expect(fake.ops()).toEqual([
      'ListLoadBalancers',
      'GetLoadBalancer',
      'CreateBackendSet',
      'GetWorkRequest',
      'CreateBackendSet',
      'GetWorkRequest',
    ]);
    const creates = fake.calls.filter((c) => c.op === 'CreateBackendSet');
    expect(creates[0]!.path).toBe(`/20170115/loadBalancers/${lb.id}/backendSets`);
    expect(creates[0]!.body).toEqual({
      name: 'http',
      policy: 'ROUND_ROBIN',
      backends: [],
      healthChecker: {
        protocol: 'HTTP',
        urlPath: '/healthz',
        returnCode: 200,
        port: 0,
        intervalInMillis: 2000,
        timeoutInMillis: 1000,
        retries: 3,
      },
    });
    expect([...lb.backendSets.keys()]).toEqual(['http', 'metrics']);
  });

  it('a filter matching no or several load balancers is a clear error', async () => {
    fake = await FakeOci.start();
    fake.lb.add({ displayName: 'a', compartmentId: COMPARTMENT });
    fake.lb.add({ displayName: 'a', compartmentId: COMPARTMENT });
    const make = (filter: Record<string, unknown>) =>
      new OciLbRouter({
        clients: clientsFor(fake),
        defaults: { kind: 'oci-lb', filter, compartmentId: COMPARTMENT },
      }).ensureRoute({ service: 'web', listen: '192.0.2.10:80', drainTimeoutMs: 1 });
    await expect(make({ displayName: 'a' })).rejects.toThrow(
      /2 load balancers \(a, a\) in .* match {"displayName":"a"}: the filter must match exactly one/,
    );
    await expect(make({ displayName: 'b' })).rejects.toThrow(/no load balancer in .* match/);
  });

  it('one backend per instance × configured {port, backendSet}; waits for work requests and health (404, CRITICAL, then OK)', async () => {
    const { router, lb } = await setup();
    fake.lb.healthOf = () => ['CRITICAL', 'OK'];
    fake.calls.length = 0;
    await router.addBackends('web', [{ id: 'i1', address: '127.0.1.10:8080', revision: 1 }]);
    const http = lb.backendSets.get('http')!.backends.get('127.0.1.10:8080')!;
    const metrics = lb.backendSets.get('metrics')!.backends.get('127.0.1.10:9090')!;
    expect([http.drain, http.offline, metrics.port]).toEqual([false, false, 9090]);
    const health = fake.calls.filter((c) => c.op === 'GetBackendHealth').map((c) => c.status);
    // The health read right after the create succeeded finds CRITICAL, then OK — per backend.
    expect(health).toEqual([200, 200, 200, 200]);
    expect(fake.ops()).toEqual([
      'GetLoadBalancer',
      'CreateBackend',
      'GetWorkRequest',
      'CreateBackend',
      'GetWorkRequest',
      'GetBackendHealth',
    ]);
    expect(fake.calls.find((c) => c.op === 'CreateBackend')!.body).toEqual({
      ipAddress: '127.0.1.10',
      port: 8080,
      weight: 1,
      backup: false,
      drain: false,
      offline: false,
    });
  });

  it('a backend that never becomes OK is a DriverError after healthTimeout (virtual time), saying its last health', async () => {
    const { router, clock } = await setup({ healthTimeout: '30s', pollInterval: '5s' });
    fake.lb.healthOf = () => ['CRITICAL'];
    const err = await router
      .addBackends('web', [{ id: 'i1', address: '127.0.1.10:8080', revision: 1 }])
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'oci-lb: backend 127.0.1.10:8080 (i1) in backend set http not OK after 30000 ms: last health CRITICAL',
    );
    expect(clock.now()).toBeGreaterThanOrEqual(30_000);
  });

  it('setSplit 90/10 becomes backend weights (largest 100); a revision at 0 % drains', async () => {
    const { router, lb } = await setup({ backends: [{ backendSet: 'http' }] });
    await router.addBackends('web', [
      { id: 'a', address: '127.0.1.10:8080', revision: 1 },
      { id: 'b', address: '127.0.1.11:8080', revision: 1 },
      { id: 'c', address: '127.0.1.12:8080', revision: 2 },
    ]);
    const set = lb.backendSets.get('http')!.backends;
    const w = () => [...set.values()].map((b) => [b.name, b.weight, b.drain]);
    await router.setSplit('web', {
      weights: [
        { revision: 1, percent: 90 },
        { revision: 2, percent: 10 },
      ],
      sticky: false,
    });
    expect(w()).toEqual([
      ['127.0.1.10:8080', 100, false],
      ['127.0.1.11:8080', 100, false],
      ['127.0.1.12:8080', 22, false],
    ]);
    await router.setSplit('web', { weights: [{ revision: 2, percent: 100 }], sticky: false });
    expect(w()).toEqual([
      ['127.0.1.10:8080', 1, true],
      ['127.0.1.11:8080', 1, true],
      ['127.0.1.12:8080', 100, false],
    ]);
  });

  it('waitDrained waits the drain period on the clock (OCI reports no connection counts)', async () => {
    const { router, clock } = await setup({ drainPeriod: '10s' });
    await router.addBackends('web', [{ id: 'a', address: '127.0.1.10:8080', revision: 1 }]);
    await router.drain('web', ['a']);
    const t = clock.now();
    expect(await router.waitDrained('web', ['a'], 60_000)).toEqual({
      drained: true,
      inFlight: 0,
      waitedMs: 10_000,
    });
    expect(await router.waitDrained('web', ['a'], 4_000)).toEqual({
      drained: false,
      inFlight: 0,
      waitedMs: 4_000,
    });
    expect(clock.now() - t).toBe(14_000);
  });

  it('keeps its record in a state file: a restarted router knows which OCI backend is which instance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-oci-lb-'));
    try {
      fake = await FakeOci.start();
      const lb = fake.lb.add({ displayName: 'edge', compartmentId: COMPARTMENT });
      const make = () =>
        new OciLbRouter({
          clients: clientsFor(fake, { clock: new VirtualClock() }),
          defaults: { kind: 'oci-lb', loadBalancerId: lb.id },
          stateFile: join(dir, 'oci-lb-router.json'),
        });
      const a = make();
      await a.ensureRoute({ service: 'web', listen: '192.0.2.10:80', drainTimeoutMs: 1000 });
      await a.addBackends('web', [{ id: 'i1', address: '127.0.1.10:8080', revision: 1 }]);
      await a.close();
      const b = make();
      expect((await b.status('web'))?.backends.map((x) => [x.id, x.address, x.state])).toEqual([
        ['i1', '127.0.1.10:8080', 'active'],
      ]);
      await b.removeBackends('web', ['i1']);
      expect(lb.backendSets.get('web')!.backends.size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a work request that FAILED is a DriverError with OCI's error details", async () => {
    const { router } = await setup({ backends: [{ backendSet: 'http' }] });
    fake.lb.failWorkRequests = (type) => (type === 'CreateBackend' ? 'Backend limit reached' : undefined);
    await expect(
      router.addBackends('web', [{ id: 'i2', address: '127.0.1.12:8080', revision: 1 }]),
    ).rejects.toThrow(
      /^oci-lb: create backend 127\.0\.1\.12:8080 in http: work request ocid1\.loadbalancerworkrequest\.[^ ]+ FAILED: Backend limit reached$/,
    );
  });
});
