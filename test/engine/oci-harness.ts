import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dryDriversFor } from '../../src/api/dry-drivers.js';
import { VirtualClock } from '../../src/cloud/clock.js';
import type { OciClients } from '../../src/cloud/oci/clients.js';
import { silentLogger } from '../../src/core/logger.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { DeployEvent } from '../../src/engine/events.js';
import { createMultiRouter } from '../../src/router/create.js';
import { createMultiRuntime } from '../../src/runtime/create.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { FakeOci } from '../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../fakes/oci/load-balancer.js';
import { COMPARTMENT, clientsFor, ociSpec } from '../fakes/oci/setup.js';

/** A `runtime: oci` + `router: oci-lb` service as baton.yaml would give it (parsed by the real schema). */
export function ociService(version: string, extra: Record<string, unknown> = {}): ServiceSpec {
  return serviceSchema.parse({
    ...ociSpec({ VERSION: version }),
    replicas: 1,
    probe: { http: { path: '/' } },
    traffic: {
      listen: '192.0.2.10:80',
      drainTimeout: '30s',
      router: {
        kind: 'oci-lb',
        filter: { displayName: 'edge', freeformTags: { env: 'prod' } },
        compartmentId: COMPARTMENT,
        backends: [{ port: 8080, backendSet: 'http' }],
        healthTimeout: '120s',
        pollInterval: '5s',
        drainPeriod: '10s',
      },
    },
    strategy: { type: 'replace' },
    ...extra,
  });
}

/**
 * Baton's engine as the daemon builds it (the multi runtime and router from the create functions) over
 * the real OCI drivers and SDK, against the in-process fake; OCI waits run on a virtual clock.
 */
export async function ociEngine(fakeOpts: Parameters<typeof FakeOci.start>[0] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-oci-engine-'));
  // A loopback /24 of its own: test files run in parallel, and each fake instance's app binds ip:8080.
  const net = `127.${10 + randomInt(240)}.${randomInt(250)}`;
  const fake = await FakeOci.start({ transitionGets: 2, listLag: 2, net, ...fakeOpts });
  const clock = new VirtualClock();
  const clients: OciClients = clientsFor(fake, { clock });
  const lb: FakeLoadBalancer = fake.lb.add({
    displayName: 'edge',
    compartmentId: COMPARTMENT,
    freeformTags: { env: 'prod' },
  });
  fake.lb.addBackendSet(lb, 'http');
  const logger = silentLogger();
  const drivers = { dataDir: dir, logger, ociClients: () => clients, ociPollIntervalMs: 5000 };
  const deps: EngineDeps = {
    repo: new Repo(new MemoryStore()),
    runtime: createMultiRuntime(drivers),
    router: createMultiRouter(drivers),
    logger,
    holder: 'test',
    // `baton plan`: the daemon's own dry-run drivers, on the same clients and state file.
    dryRun: dryDriversFor({ ...drivers, ociCompartments: [COMPARTMENT] }),
  };
  const deployer = new Deployer(deps);
  const control = new ServiceControl(deps, deployer);
  const events: DeployEvent[] = [];
  const deploy = (spec: ServiceSpec) =>
    deployer.deploy({ service: 'web', spec, actor: 't' }, (e) => events.push(e));
  /** The backends of set `http`: [name, drain, offline, weight]. */
  const backends = () =>
    [...lb.backendSets.get('http')!.backends.values()].map((b) => [
      b.ipAddress,
      b.drain,
      b.offline,
      b.weight,
    ]);
  /** Revisions of the live instances, sorted. */
  const live = () =>
    fake.ci
      .live()
      .map((i) => Number(i.freeformTags['baton-revision']))
      .sort();
  return {
    dir,
    fake,
    clock,
    clients,
    lb,
    deps,
    deployer,
    control,
    events,
    deploy,
    backends,
    live,
    async close() {
      await deps.runtime.close();
      await deps.router.close();
      await clients.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type OciEngine = Awaited<ReturnType<typeof ociEngine>>;
