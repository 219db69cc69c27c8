import { afterEach, describe, expect, it } from 'vitest';
import { type OciEngine, ociEngine, ociService } from './oci-harness.js';

/** `baton destroy` of an OCI service (deploy-inst's delete-only) through ServiceControl and the engine. */
describe('engine × OCI: destroy', () => {
  let env: OciEngine;
  afterEach(async () => env.close());

  it('drain, wait, delete the backends, stop and delete the instances, remove the route; history kept', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1', { replicas: 2 }))).toMatchObject({ ok: true });
    const ids = (await env.deps.runtime.list('web')).map((i) => i.id).sort();
    env.fake.calls.length = 0;
    const t0 = env.clock.now();
    const r = await env.control.destroy('web', 'tester');
    expect(r).toEqual({ service: 'web', removed: ids });
    const writes = env.fake.ops((c) => c.method !== 'GET');
    // Both backends drained first (one UpdateBackend each), then deleted, then each instance goes.
    expect(writes.slice(0, 4)).toEqual(['UpdateBackend', 'UpdateBackend', 'DeleteBackend', 'DeleteBackend']);
    expect(writes.slice(4).sort()).toEqual(
      [
        'UpdateContainerInstance',
        'StopContainerInstance',
        'DeleteContainerInstance',
        'UpdateContainerInstance',
        'StopContainerInstance',
        'DeleteContainerInstance',
      ].sort(),
    );
    // Each instance: marked stopped, stopped (SIGTERM), deleted — in that order.
    for (const inst of env.fake.ci.instances.values()) {
      const mine = env.fake.calls.filter(
        (c) => c.method !== 'GET' && c.status < 400 && c.path.includes(inst.id),
      );
      expect(mine.map((c) => c.op)).toEqual([
        'UpdateContainerInstance',
        'StopContainerInstance',
        'DeleteContainerInstance',
      ]);
    }
    // The drain period passed before the first delete.
    const firstDelete = env.fake.calls.findIndex((c) => c.op === 'DeleteBackend');
    const lastDrain = env.fake.calls.map((c) => c.op).lastIndexOf('UpdateBackend');
    expect(lastDrain).toBeLessThan(firstDelete);
    expect(env.clock.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(env.backends()).toEqual([]);
    expect(env.fake.ci.live()).toEqual([]);
    expect(await env.deps.router.status('web')).toBeUndefined();
    const record = await env.deps.repo.getService('web');
    expect(record).toMatchObject({ stopped: true, destroyed: expect.any(String), current: 1 });
    expect(await env.deps.repo.listRevisions('web')).toHaveLength(1);
    const audit = await env.deps.repo.listAudit({ service: 'web', limit: 5 });
    expect(audit.find((a) => a.action === 'destroy')).toMatchObject({ result: 'ok', actor: 'tester' });
    // A later deploy brings it back and clears the mark.
    expect(await env.deploy(ociService('v1', { replicas: 2 }))).toMatchObject({ ok: true });
    expect(env.live()).toEqual([1, 1]);
    expect((await env.deps.repo.getService('web'))?.destroyed).toBeUndefined();
  });

  it('an instance already stopped (not counted by any plan) is deleted too', async () => {
    env = await ociEngine();
    expect(await env.deploy(ociService('v1'))).toMatchObject({ ok: true });
    const [v1] = await env.deps.runtime.list('web');
    await env.deps.runtime.stop(v1!.id, 1000);
    expect(await env.control.destroy('web', 'tester')).toMatchObject({ removed: [v1!.id] });
    expect(env.fake.ci.live()).toEqual([]);
    expect(env.backends()).toEqual([]);
  });
});
