import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src/engine/supervisor.js';
import { type OciEngine, ociEngine, ociService } from './oci-harness.js';

/** Between deploys: an OCI service is not probed by Baton and its API is not polled every tick. */
describe('supervisor × OCI', () => {
  let env: OciEngine;
  afterEach(async () => env.close());

  it('takes a crashed instance offline, restarts it, looks again only after 15 s, then serves it again once OK', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    const sup = new Supervisor(env.deps, env.deployer);
    const [ci] = env.fake.ci.live();
    await env.fake.ci.crash(ci!.id);
    env.fake.calls.length = 0;
    await sup.tick();
    // Offline while down (no new connections to it), then the start action (its tag first).
    expect(env.fake.ops((c) => c.method !== 'GET')).toEqual([
      'UpdateBackend',
      'UpdateContainerInstance',
      'StartContainerInstance',
    ]);
    expect(env.backends().map((b) => b[2])).toEqual([true]);
    const listed = env.fake.calls.filter((c) => c.op === 'ListContainerInstances').length;
    await sup.tick();
    await sup.tick();
    expect(env.fake.calls.filter((c) => c.op === 'ListContainerInstances').length).toBe(listed);
    expect(env.fake.ci.live()[0]!.lifecycleState).toBe('ACTIVE');
    // 15 s later: running again, so its backend serves again (after the load balancer says OK).
    const realNow = Date.now;
    Date.now = () => realNow() + 16_000;
    try {
      await sup.tick();
    } finally {
      Date.now = realNow;
    }
    expect(env.backends().map((b) => b[2])).toEqual([false]);
    expect(env.fake.calls.filter((c) => c.op === 'GetBackendHealth').length).toBeGreaterThan(0);
  });
});
