import { afterEach, describe, expect, it } from 'vitest';
import { printPlan } from '../../src/cli/commands/plan.js';
import type { MultiRouter } from '../../src/router/multi.js';
import { type OciEngine, ociEngine, ociService } from './oci-harness.js';

/** `baton plan` of an OCI service: the daemon's dry run through the engine's own step code. */
describe('engine × OCI: baton plan lists every call and changes nothing', () => {
  let env: OciEngine;
  afterEach(async () => env.close());

  it('v1 → v2: the calls of each step, from what exists, and not one write to the fake', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    // Later: the lists caught up (the dry runtime is a fresh one that finds v1 by its tags).
    for (const i of env.fake.ci.instances.values()) i.hiddenFromLists = 0;
    const [v1] = await env.deps.runtime.list('web');
    const old = env.fake.ci.live()[0]!.id;
    env.fake.calls.length = 0;
    const spec = ociService('v2', { env: { VERSION: 'v2', DB_PASSWORD: 'hunter2' } });
    const p = await env.deployer.preview('web', spec, { secretPaths: ['env.DB_PASSWORD'] });
    expect(env.fake.writes()).toEqual([]);
    expect(env.fake.calls.every((c) => c.method === 'GET')).toBe(true);
    const be = `/20170115/loadBalancers/${env.lb.id}/backendSets/http/backends`;
    const v1be = `${be}/${encodeURIComponent(`${v1!.host}:8080`)}`;
    expect(
      p.calls?.map((s) => [
        s.step,
        s.op,
        s.calls.map((c) => `${c.op} ${c.method ?? ''} ${c.path ?? ''}`.trim()),
      ]),
    ).toEqual([
      [0, 'ensure-route', []],
      [
        1,
        'start',
        [
          'CreateContainerInstance POST /20210415/containerInstances',
          'GetVnic GET /20160918/vnics/{vnicId of the new instance}',
        ],
      ],
      [2, 'await-healthy', []],
      [
        3,
        'switch',
        [
          `CreateBackend POST ${be}`,
          `GetBackendHealth GET ${be}/%3Cprivate-ip-of-web-r2-dry-run-1%3E%3A8080/health`,
          `UpdateBackend PUT ${v1be}`,
        ],
      ],
      [4, 'drain', ['Wait']],
      [
        5,
        'stop',
        [
          `DeleteBackend DELETE ${v1be}`,
          `UpdateContainerInstance PUT /20210415/containerInstances/${old}`,
          `StopContainerInstance POST /20210415/containerInstances/${old}/actions/stop`,
          `DeleteContainerInstance DELETE /20210415/containerInstances/${old}`,
        ],
      ],
    ]);
    // The create's exact body, with the secret hidden (invariant 5).
    const create = p.calls![1]!.calls[0]!.body as { containers: Array<{ environmentVariables: object }> };
    expect(create.containers[0]!.environmentVariables).toMatchObject({
      VERSION: 'v2',
      DB_PASSWORD: '[secret]',
      PORT: '8080',
    });
    expect(JSON.stringify(p)).not.toContain('hunter2');
    // What `baton plan` prints.
    const out: string[] = [];
    printPlan({ out: (l: string) => out.push(l), err: () => undefined } as never, 'web', p);
    expect(out[0]).toBe('web: revision 2 would replace revision 1');
    expect(out).toContain(
      "  2. wait until healthy: web-r2-dry-run-1 — the load balancer's health check gates traffic (GetBackendHealth until OK when its backend is added)",
    );
    expect(out).toContain(`  4. drain: ${v1!.id}`);
    expect(
      out.some((l) =>
        /^ {7}UpdateBackend: PUT .* \{"weight":1,"backup":false,"drain":true,"offline":false\} — then GetWorkRequest until SUCCEEDED$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(out.at(-1)).toBe('  7 write(s) would be made; nothing was changed');
    // Nothing changed: v1 serves, alone.
    expect(env.live()).toEqual([1]);
    expect(env.backends()).toEqual([[v1!.host, false, false, 1]]);
  });

  it('a first deploy on a load balancer without the backend set: CreateBackendSet with the probe’s health checker', async () => {
    env = await ociEngine();
    env.lb.backendSets.delete('http');
    // The daemon binds a service to its router when deployed; a first plan asks the embedded proxy for
    // the route's status (none), which this test has not started.
    (env.deps.router as MultiRouter).bind('web', ociService('v1').traffic.router);
    env.fake.calls.length = 0;
    const p = await env.deployer.preview('web', ociService('v1'));
    expect(env.fake.writes()).toEqual([]);
    expect(p.calls?.[0]?.calls).toEqual([
      {
        op: 'CreateBackendSet',
        method: 'POST',
        path: `/20170115/loadBalancers/${env.lb.id}/backendSets`,
        body: {
          name: 'http',
          policy: 'ROUND_ROBIN',
          backends: [],
          healthChecker: expect.objectContaining({ protocol: 'HTTP', urlPath: '/', returnCode: 200 }),
        },
        awaits: 'GetWorkRequest until SUCCEEDED',
      },
    ]);
    expect(env.lb.backendSets.has('http')).toBe(false);
  });
});
