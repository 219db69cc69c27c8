import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serviceStatus } from '../../src/api/status.js';
import { silentLogger } from '../../src/core/logger.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { FakeRouter } from '../../src/router/fake/fake-router.js';
import { FakeRuntime } from '../../src/runtime/fake/fake-runtime.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';

const spec = (version: string, env: Record<string, string> = {}): ServiceSpec =>
  serviceSchema.parse({
    runtime: 'process',
    command: 'unused',
    env: { VERSION: version, ...env },
    replicas: 2,
    probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '500ms' },
    traffic: { listen: '127.0.0.1:1', drainTimeout: '1s' },
    strategy: { type: 'replace' },
  });

/** What `baton status` reports of a destroyed service, and what a deploy after a destroy does. */
describe('a destroyed service', () => {
  let runtime: FakeRuntime;
  let deps: EngineDeps;
  let deployer: Deployer;
  let control: ServiceControl;
  const deploy = (s: ServiceSpec) =>
    deployer.deploy({ service: 'web', spec: s, actor: 't' }, () => undefined);

  beforeEach(async () => {
    runtime = new FakeRuntime({ serveHttp: true });
    deps = {
      repo: new Repo(new MemoryStore()),
      runtime,
      router: new FakeRouter(),
      logger: silentLogger(),
      holder: 'test',
    };
    deployer = new Deployer(deps);
    control = new ServiceControl(deps, deployer);
    expect((await deploy(spec('v1'))).ok).toBe(true);
  });
  afterEach(async () => {
    for (const i of await runtime.list()) await runtime.stop(i.id, 100);
    await runtime.close();
  });

  it('status says when it was destroyed (stopped stays true); a deploy brings it back and clears it', async () => {
    expect(await serviceStatus(deps, 'web')).toMatchObject({ destroyed: null, stopped: false });
    await control.destroy('web', 't');
    const s = await serviceStatus(deps, 'web');
    expect(s).toMatchObject({ current: 1, stopped: true, instances: [] });
    expect(Date.parse(s!.destroyed!)).not.toBeNaN();
    expect((await deploy(spec('v1'))).ok).toBe(true);
    expect(await serviceStatus(deps, 'web')).toMatchObject({ destroyed: null, stopped: false });
    expect((await runtime.list('web')).filter((i) => i.state === 'running')).toHaveLength(2);
  });

  it('a deploy after a destroy that fails does not bring the destroyed revision back', async () => {
    await control.destroy('web', 't');
    const r = await deploy(spec('v2', { HEALTH: 'fail' }));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/the service stays destroyed/);
    expect((await runtime.list('web')).filter((i) => i.state === 'running')).toEqual([]);
    expect((await serviceStatus(deps, 'web'))?.destroyed).not.toBeNull();
  });
});
