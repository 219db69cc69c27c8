import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import { InputError } from '../../src/core/errors.js';
import { OciRuntime } from '../../src/runtime/oci/oci-runtime.js';
import type { StartRequest } from '../../src/runtime/runtime.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { FakeOci } from '../fakes/oci/fake-oci.js';
import { COMPARTMENT, clientsFor, ociSpec } from '../fakes/oci/setup.js';
import { httpGet } from '../helpers/http.js';
import { runRuntimeContract } from './runtime.contract.js';

const OWNER = 'test-owner';
const ocidOf = (fake: FakeOci, id: string) => fake.ci.live({ 'baton-instance': id })[0]!.id;

runRuntimeContract('oci', async () => {
  const fake = await FakeOci.start();
  const runtime = new OciRuntime({ clients: clientsFor(fake), owner: OWNER, pollIntervalMs: 10 });
  return {
    runtime,
    spec: (env) => ociSpec(env) as unknown as ServiceSpec,
    crash: (i) => fake.ci.crash(ocidOf(fake, i.id)),
    cleanup: async () => {
      await runtime.close();
      await fake.close();
    },
  };
});

describe('oci runtime specifics', () => {
  let fake: FakeOci;
  afterEach(async () => {
    await fake.close();
  });
  const setup = async (fakeOpts: Parameters<typeof FakeOci.start>[0] = {}, clock = new VirtualClock()) => {
    fake = await FakeOci.start(fakeOpts);
    const clients = clientsFor(fake, { clock });
    const make = () =>
      new OciRuntime({ clients, owner: OWNER, compartmentIds: [COMPARTMENT], pollIntervalMs: 5000 });
    return { clients, make, clock };
  };
  const request = (over: Partial<StartRequest> = {}): StartRequest => ({
    id: 'web-r1-d1-1',
    service: 'web',
    revision: 1,
    deployment: 'd1',
    spec: ociSpec({ VERSION: 'v1' }) as unknown as ServiceSpec,
    ...over,
  });

  it('creates with OCI field names, Baton tags, PORT/BATON_* env and a retry token derived from the id', async () => {
    const { make } = await setup();
    const i = await make().start(request());
    const create = fake.calls.find((c) => c.op === 'CreateContainerInstance')!;
    expect(create.path).toBe('/20210415/containerInstances');
    expect(create.retryToken).toMatch(/^[0-9a-f]{64}$/);
    expect(create.body).toMatchObject({
      displayName: 'web-r1-d1-1',
      compartmentId: COMPARTMENT,
      availabilityDomain: 'GARu:EU-FRANKFURT-1-AD-3',
      shape: 'CI.Standard.A1.Flex',
      shapeConfig: { ocpus: 1, memoryInGBs: 1 },
      containerRestartPolicy: 'NEVER',
      gracefulShutdownTimeoutInSeconds: 5,
      containers: [
        {
          imageUrl: 'ghcr.io/acme/hello:1',
          environmentVariables: {
            VERSION: 'v1',
            PORT: '8080',
            BATON_SERVICE: 'web',
            BATON_REVISION: '1',
            BATON_INSTANCE: 'web-r1-d1-1',
          },
        },
      ],
      freeformTags: {
        'baton-managed-by': 'baton',
        'baton-service': 'web',
        'baton-revision': '1',
        'baton-deployment': 'd1',
        'baton-instance': 'web-r1-d1-1',
        'baton-port': '8080',
        'baton-owner': OWNER,
      },
    });
    expect(i).toMatchObject({ host: `${fake.ci.net}.10`, port: 8080, state: 'running' });
    expect((await httpGet(i.host, i.port, '/')).body).toContain('hello from v1');
    expect(fake.ops()).toEqual([
      'ListContainerInstances',
      'CreateContainerInstance',
      'GetContainerInstance',
      'GetVnic',
    ]);
  });

  it('adopts: a new runtime finds the instance by its tags; another owner does not', async () => {
    const { make, clients } = await setup();
    const i = await make().start(request());
    expect((await make().list('web')).map((x) => [x.id, x.host, x.port, x.state])).toEqual([
      [i.id, i.host, 8080, 'running'],
    ]);
    const other = new OciRuntime({ clients, owner: 'other', compartmentIds: [COMPARTMENT] });
    expect(await other.list()).toEqual([]);
    expect(await other.get(i.id)).toBeUndefined();
  });

  it('a lost create answer, a list that lags and a repeated step still make exactly one instance', async () => {
    const { make } = await setup({ listLag: 3 });
    fake.failNext('CreateContainerInstance', { status: 500, after: true });
    await make().start(request());
    // A resumed deploy: a fresh runtime, the list does not show the instance yet, the step runs again.
    const again = await make().start(request());
    expect(fake.ci.live({ 'baton-instance': 'web-r1-d1-1' })).toHaveLength(1);
    expect(again.state).toBe('running');
    const creates = fake.calls.filter((c) => c.op === 'CreateContainerInstance');
    expect(creates.map((c) => [c.status, c.fault])).toEqual([
      [500, 'after'],
      [200, undefined],
      [200, undefined],
    ]);
    expect(new Set(creates.map((c) => c.retryToken)).size).toBe(1);
  });

  it('an instance that goes FAILED is a DriverError saying why', async () => {
    const { make } = await setup();
    fake.ci.failWhen = () => 'image pull failed: ghcr.io/acme/hello:1 not found';
    await expect(make().start(request())).rejects.toThrow(
      /^oci: container instance web-r1-d1-1 \(ocid1\.computecontainerinstance\.[^)]+\) FAILED: image pull failed: ghcr\.io\/acme\/hello:1 not found$/,
    );
  });

  it('a start that never becomes ACTIVE times out on the injected clock (no real wait)', async () => {
    const clock = new VirtualClock();
    fake = await FakeOci.start({ transitionGets: 1_000_000 });
    const rt = new OciRuntime({
      clients: clientsFor(fake, { clock }),
      owner: OWNER,
      pollIntervalMs: 5000,
      startTimeoutMs: 60_000,
    });
    await expect(rt.start(request())).rejects.toThrow(/still CREATING after 60000 ms$/);
    expect(clock.now()).toBe(60_000);
    expect(fake.calls.filter((c) => c.op === 'GetContainerInstance')).toHaveLength(13);
  });

  it('a slow answer is abandoned after the attempt timeout and retried with the same token', async () => {
    fake = await FakeOci.start();
    const rt = new OciRuntime({
      clients: clientsFor(fake, { attemptTimeoutMs: 200 }),
      owner: OWNER,
      pollIntervalMs: 5,
    });
    fake.failNext('CreateContainerInstance', { delayMs: 600 });
    await rt.start(request());
    expect(fake.ci.live({ 'baton-instance': 'web-r1-d1-1' })).toHaveLength(1);
    const creates = fake.calls.filter((c) => c.op === 'CreateContainerInstance');
    expect(creates.length).toBe(2);
    expect(creates[0]!.retryToken).toBe(creates[1]!.retryToken);
  });

  it('an invalid spec is an InputError naming the fields, and calls nothing', async () => {
    const { make } = await setup();
    const spec = ociSpec();
    (spec.containerInstance as Record<string, unknown>).vnics = [];
    delete (spec.containerInstance as Record<string, unknown>).shape;
    const err = await make()
      .start(request({ spec: spec as unknown as ServiceSpec }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      'runtime oci: invalid service spec: containerInstance.shape: Invalid input: expected string, received undefined; containerInstance.vnics: a container instance has exactly one VNIC',
    );
    expect(fake.calls).toEqual([]);
  });

  it('stop marks and stops, remove deletes and waits until DELETED', async () => {
    const { make } = await setup();
    const rt = make();
    await rt.start(request());
    fake.calls.length = 0;
    await rt.stop('web-r1-d1-1', 5000);
    await rt.remove('web-r1-d1-1');
    expect(fake.ops()).toEqual([
      'GetContainerInstance',
      'UpdateContainerInstance',
      'StopContainerInstance',
      'GetContainerInstance',
      'DeleteContainerInstance',
      'GetContainerInstance',
    ]);
    expect(fake.ci.live()).toEqual([]);
  });

  it("purges this owner's instances of no kept revision, never another owner's", async () => {
    const { clients, make } = await setup();
    const rt = new OciRuntime({ clients, owner: OWNER, compartmentIds: [COMPARTMENT], purgeMinAgeMs: 0 });
    const old = await rt.start(request({ id: 'web-r1', revision: 1 }));
    const cur = await rt.start(request({ id: 'web-r2', revision: 2 }));
    const other = new OciRuntime({ clients, owner: 'other', compartmentIds: [COMPARTMENT] });
    await other.start(request({ id: 'web-r1-other', revision: 1 }));
    expect(await rt.purge((t) => t.revision === 2)).toEqual([old.id]);
    expect((await rt.list()).map((i) => i.id)).toEqual([cur.id]);
    expect((await other.list()).map((i) => i.id)).toEqual(['web-r1-other']);
    // Young instances are spared (a deploy may have just created them).
    expect(await make().purge(() => false)).toEqual([]);
  });

  it('lists an instance it created even while ListContainerInstances does not show it yet', async () => {
    const { make } = await setup({ listLag: 10 });
    const rt = make();
    const i = await rt.start(request());
    expect((await rt.list('web')).map((x) => x.id)).toEqual([i.id]);
    // A fresh runtime knows only what the (lagging) list says — until it catches up.
    expect(await make().list('web')).toEqual([]);
  });
});
