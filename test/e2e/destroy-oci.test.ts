import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeOciWithLb, ociDaemonEnv } from '../fakes/oci/daemon.js';
import type { FakeOci } from '../fakes/oci/fake-oci.js';
import type { FakeLoadBalancer } from '../fakes/oci/load-balancer.js';
import { COMPARTMENT, SUBNET } from '../fakes/oci/setup.js';
import { baton, type Daemon, startDaemon, type Workspace, workspace } from '../helpers/baton.js';

/**
 * An OCI service through the real CLI and `baton serve`: credentials from an OCI config file, every OCI
 * endpoint overridden with BATON_OCI_ENDPOINT (the in-process fake). plan → deploy → plan → destroy.
 */
describe('runtime oci + router oci-lb through baton serve and the CLI', () => {
  let fake: FakeOci;
  let lb: FakeLoadBalancer;
  let ws: Workspace;
  let daemon: Daemon;
  const cli = (args: string[]) => baton(args, { dataDir: ws.dataDir });

  const spec = (version: string) => `services:
  web:
    runtime: oci
    port: 8080
    env: { VERSION: ${version} }
    containerInstance:
      compartmentId: ${COMPARTMENT}
      availabilityDomain: GARu:EU-FRANKFURT-1-AD-3
      shape: CI.Standard.A1.Flex
      shapeConfig: { ocpus: 1, memoryInGBs: 1 }
      vnics: [{ subnetId: ${SUBNET} }]
      containers: [{ displayName: app, imageUrl: "ghcr.io/acme/hello:1" }]
    probe: { http: { path: / } }
    stopTimeout: 5s
    traffic:
      listen: "192.0.2.10:80"
      router:
        kind: oci-lb
        loadBalancerId: ${lb.id}
        backends: [{ port: 8080, backendSet: http }]
        pollInterval: 200ms
        drainPeriod: 500ms
    strategy: { type: replace }
`;

  beforeAll(async () => {
    ({ fake, lb } = await fakeOciWithLb({ listLag: 0 }));
    ws = workspace();
    daemon = await startDaemon(ws.dataDir, ociDaemonEnv(ws.dir, fake));
  });

  afterAll(async () => {
    await daemon?.kill();
    await ws?.cleanup();
    await fake?.close();
  });

  it('plan of a first deploy: CreateContainerInstance and CreateBackend with their bodies, no write', async () => {
    writeFileSync(ws.specFile, spec('v1'));
    const r = await cli(['plan', '-f', ws.specFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^web: revision 1 \(first deploy\)$/m);
    expect(r.stdout).toMatch(
      /^ {7}CreateContainerInstance: POST \/20210415\/containerInstances \{.*"VERSION":"v1"/m,
    );
    expect(r.stdout).toMatch(
      /^ {7}CreateBackend: POST \/20170115\/loadBalancers\/.*\/backendSets\/http\/backends /m,
    );
    expect(r.stdout).toMatch(/write\(s\) would be made; nothing was changed$/m);
    expect(fake.writes()).toEqual([]);
    const json = JSON.parse((await cli(['plan', '-f', ws.specFile, '--json'])).stdout) as {
      plans: Array<{ calls: Array<{ op: string; calls: Array<{ op: string }> }> }>;
    };
    expect(json.plans[0]!.calls.find((s) => s.op === 'start')?.calls.map((c) => c.op)).toEqual([
      'CreateContainerInstance',
      'GetVnic',
    ]);
  });

  it('deploy, then plan v2 (changes nothing), then destroy: drain, delete backends, stop and delete the instance', async () => {
    const d = await cli(['deploy', '-f', ws.specFile]);
    expect(d.code, `${d.stdout}\n${d.stderr}\n${daemon.output()}`).toBe(0);
    expect(fake.ci.live()).toHaveLength(1);
    expect([...lb.backendSets.get('http')!.backends.values()]).toHaveLength(1);

    writeFileSync(ws.specFile, spec('v2'));
    const before = fake.writes().length;
    const p = await cli(['plan', '-f', ws.specFile]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^ {7}DeleteContainerInstance: DELETE \/20210415\/containerInstances\/ocid1\./m);
    expect(fake.writes().length).toBe(before);

    const x = await cli(['destroy', 'web', '--yes']);
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toMatch(/web: destroyed \(1 instance\(s\) removed; history kept\)/);
    expect(
      fake
        .writes()
        .slice(before)
        .map((c) => c.op),
    ).toEqual([
      'UpdateBackend',
      'DeleteBackend',
      'UpdateContainerInstance',
      'StopContainerInstance',
      'DeleteContainerInstance',
    ]);
    expect(fake.ci.live()).toEqual([]);
    expect([...lb.backendSets.get('http')!.backends.values()]).toEqual([]);
  });
});
