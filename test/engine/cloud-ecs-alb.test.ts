import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dryDriversFor } from '../../src/api/dry-drivers.js';
import { VirtualClock } from '../../src/cloud/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ServiceControl } from '../../src/engine/control.js';
import { Deployer } from '../../src/engine/deployer.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { createMultiRouter } from '../../src/router/create.js';
import type { Router } from '../../src/router/router.js';
import { createMultiRuntime } from '../../src/runtime/create.js';
import { type ServiceSpec, serviceSchema } from '../../src/spec/schema.js';
import { MemoryStore } from '../../src/store/fake/memory-store.js';
import { Repo } from '../../src/store/repo.js';
import { LISTENER_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';
import { ecsSpec } from '../fakes/aws/setup.js';

/** A `runtime: ecs` + `router: alb` service as baton.yaml gives it (parsed by the real schema). */
function ecsService(version: string, extra: Record<string, unknown> = {}): ServiceSpec {
  return serviceSchema.parse({
    ...ecsSpec({ VERSION: version }),
    replicas: 1,
    probe: { http: { path: '/health' } },
    traffic: {
      listen: '192.0.2.20:80',
      drainTimeout: '30s',
      router: {
        kind: 'alb',
        listenerArn: LISTENER_ARN,
        targetGroups: [TG_BLUE, TG_GREEN],
        pollInterval: '1s',
        healthTimeout: '60s',
      },
    },
    strategy: { type: 'replace' },
    ...extra,
  });
}

/**
 * The ECS runtime and ALB router as the daemon wires them (create functions, multi drivers, dry-run
 * factory) through Baton's engine, against the aws-sdk-client-mock fake; AWS waits in virtual time.
 */
async function ecsEngine(fakeOpts: ConstructorParameters<typeof FakeAws>[0] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-ecs-engine-'));
  const fake = new FakeAws(fakeOpts);
  const clients = fake.clients(new VirtualClock());
  const logger = silentLogger();
  const liveRouters = new Map<string, Router>();
  const drivers = { dataDir: dir, logger, awsClients: () => clients };
  const deps: EngineDeps = {
    repo: new Repo(new MemoryStore()),
    runtime: createMultiRuntime({ ...drivers, ecsClusters: ['prod'] }),
    router: createMultiRouter({ ...drivers, made: liveRouters }),
    logger,
    holder: 'test',
    dryRun: dryDriversFor({ ...drivers, ecsClusters: ['prod'], liveRouters }),
  };
  const deployer = new Deployer(deps);
  return {
    fake,
    deps,
    deployer,
    control: new ServiceControl(deps, deployer),
    deploy: (s: ServiceSpec) => deployer.deploy({ service: 'web', spec: s, actor: 't' }, () => undefined),
    async close() {
      await deps.runtime.close();
      await deps.router.close();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('engine × runtime ecs × router alb, wired as the daemon does', () => {
  let env: Awaited<ReturnType<typeof ecsEngine>>;
  afterEach(async () => env.close());

  const writes = (from: number) =>
    env.fake.calls
      .slice(from)
      .filter((c) => !c.fault && !/^(Describe|List)/.test(c.op))
      .map((c) => c.op);
  const tds = () => env.fake.ecs.active().map((s) => s.taskDefinition?.split('/').pop());

  it('the spec: the ALB gates traffic (probe.by router); ECS rules checked at their field', async () => {
    env = await ecsEngine();
    expect(ecsService('v1').probe.by).toBe('router');
    const bad = serviceSchema.safeParse({
      ...ecsService('v1'),
      secrets: { VERSION: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:v' },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({
      path: ['secrets', 'VERSION'],
      message: 'VERSION is both in env and in secrets',
    });
  });

  it('replace v1 → v2: ECS writes then ALB writes in order; v2 serves; v1 gone', async () => {
    env = await ecsEngine();
    expect(await env.deploy(ecsService('v1'))).toMatchObject({ ok: true });
    const from = env.fake.calls.length;
    expect(await env.deploy(ecsService('v2'))).toMatchObject({ ok: true, revision: 2 });
    expect(writes(from)).toEqual([
      'RegisterTaskDefinition',
      'CreateService',
      'AddTags',
      'RegisterTargets',
      'ModifyListener',
      'DeregisterTargets',
      'TagResource',
      'UpdateService',
      'DeleteService',
    ]);
    expect(tds()).toEqual(['baton-web:2']);
  });

  it('a service that never becomes stable: rolled back, v1 serving, the history says why', async () => {
    env = await ecsEngine({ ecs: { neverStable: (name) => name.startsWith('web-r2') } });
    expect(await env.deploy(ecsService('v1'))).toMatchObject({ ok: true });
    const serving = env.fake.elb.serving();
    const r = await env.deploy(ecsService('v2'));
    expect(r).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(r.message).toMatch(/not stable after/);
    expect(env.fake.elb.serving()).toEqual(serving);
    expect(tds()).toEqual(['baton-web:1']);
    expect((await env.deps.repo.getRevision('web', 2))?.status).toBe('failed');
  });

  it('baton plan: every call per step, the fake records no write', async () => {
    env = await ecsEngine();
    expect(await env.deploy(ecsService('v1'))).toMatchObject({ ok: true });
    const before = env.fake.rec.writes().length;
    const p = await env.deployer.preview('web', ecsService('v2'));
    expect(env.fake.rec.writes().length).toBe(before);
    expect(Object.fromEntries((p.calls ?? []).map((s) => [s.op, s.calls.map((c) => c.op)]))).toEqual({
      'ensure-route': [],
      start: ['RegisterTaskDefinition', 'CreateService'],
      'await-healthy': [],
      switch: ['AddTags', 'RegisterTargets', 'ModifyListener', 'DeregisterTargets'],
      drain: [],
      stop: ['TagResource', 'UpdateService', 'DeleteService'],
    });
  });

  it('destroy: targets deregistered (drained) before the ECS services are scaled to 0 and deleted', async () => {
    env = await ecsEngine();
    expect(await env.deploy(ecsService('v1', { replicas: 2 }))).toMatchObject({ ok: true });
    const from = env.fake.calls.length;
    const r = await env.control.destroy('web', 'tester');
    expect(r.removed).toHaveLength(2);
    const w = writes(from);
    expect(w).toContain('DeregisterTargets');
    expect(w.lastIndexOf('DeregisterTargets')).toBeLessThan(w.indexOf('UpdateService'));
    expect(w.filter((op) => op === 'DeleteService')).toHaveLength(2);
    expect(env.fake.elb.serving()).toEqual([]);
    expect(env.fake.ecs.active()).toEqual([]);
    expect((await env.deps.repo.getService('web'))?.destroyed).toEqual(expect.any(String));
  });
});
