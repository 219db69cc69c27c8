import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { VirtualClock } from '../../../src/cloud/clock.js';
import type { OciClients } from '../../../src/cloud/oci/clients.js';
import { FakeOci } from '../../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../../fakes/oci/load-balancer.js';
import { COMPARTMENT, clientsFor } from '../../fakes/oci/setup.js';
import { ociService } from '../oci-harness.js';
import type { CloudWorld } from './every-step.js';
import type { Mortal } from './mortal.js';

/**
 * `runtime: oci` + `router: oci-lb` against one OCI fake (lists lag behind creates, every state change
 * takes two reads) for control planes that die: each gets its own SDK clients, cut when it dies.
 */
export async function ociWorld(extra: Record<string, unknown> = {}, replicas = 2) {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-oci-crash-'));
  const net = `127.${10 + randomInt(240)}.${randomInt(250)}`;
  const fake = await FakeOci.start({ transitionGets: 2, listLag: 2, net });
  const lb: FakeLoadBalancer = fake.lb.add({
    displayName: 'edge',
    compartmentId: COMPARTMENT,
    freeformTags: { env: 'prod' },
  });
  fake.lb.addBackendSet(lb, 'http');
  const made: OciClients[] = [];
  const owner = resolve(dataDir);
  const world: CloudWorld = {
    dataDir,
    service: 'web',
    replicas,
    spec: (version) => ociService(version, { replicas, ...extra }),
    drivers: (m: Mortal) => ({
      ociCompartments: [COMPARTMENT],
      ociPollIntervalMs: 5000,
      ociClients: () => {
        const c = clientsFor(fake, { clock: m.clock(new VirtualClock()) });
        made.push(c);
        return {
          ...c,
          containerInstances: m.wrap(c.containerInstances, 'containerInstances'),
          loadBalancer: m.wrap(c.loadBalancer, 'loadBalancer'),
          network: m.wrap(c.network, 'network'),
        };
      },
    }),
    check: (revision, where) => checkOci(fake, lb, owner, replicas, revision, where),
  };
  return {
    world,
    fake,
    lb,
    async close() {
      for (const c of made) await c.close();
      await fake.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * From the fake's own state: exactly `replicas` ACTIVE instances of `revision` (this owner's, service
 * web), each behind set `http` as a serving backend with equal weights, no other backend or backend set,
 * no instance ever created twice for one Baton id.
 */
export async function checkOci(
  fake: FakeOci,
  lb: FakeLoadBalancer,
  owner: string,
  replicas: number,
  revision: number,
  where: string,
): Promise<void> {
  const ours = [...fake.ci.instances.values()].filter(
    (i) => i.freeformTags['baton-owner'] === owner && i.freeformTags['baton-service'] === 'web',
  );
  const live = ours.filter((i) => i.lifecycleState !== 'DELETED');
  expect(
    live.map((i) => [Number(i.freeformTags['baton-revision']), i.lifecycleState]),
    `${where}: live container instances`,
  ).toEqual(Array.from({ length: replicas }, () => [revision, 'ACTIVE']));
  const perId = new Map<string, number>();
  for (const i of ours) {
    const id = i.freeformTags['baton-instance']!;
    perId.set(id, (perId.get(id) ?? 0) + 1);
  }
  expect(
    [...perId].filter(([, n]) => n > 1),
    `${where}: instances created twice`,
  ).toEqual([]);
  expect([...lb.backendSets.keys()], `${where}: backend sets`).toEqual(['http']);
  const backends = [...lb.backendSets.get('http')!.backends.values()];
  expect(backends.map((b) => [b.name, b.drain, b.offline]).sort(), `${where}: backends of set http`).toEqual(
    live.map((i) => [`${i.privateIp}:8080`, false, false]).sort(),
  );
  expect(new Set(backends.map((b) => b.weight)).size, `${where}: backend weights`).toBe(1);
}
