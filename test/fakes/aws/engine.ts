import { VirtualClock } from '../../../src/cloud/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Deployer } from '../../../src/engine/deployer.js';
import type { DeployEvent } from '../../../src/engine/events.js';
import { AlbRouter } from '../../../src/router/alb/router.js';
import { EcsRuntime } from '../../../src/runtime/ecs/ecs-runtime.js';
import { type ServiceSpec, serviceSchema } from '../../../src/spec/schema.js';
import { MemoryStore } from '../../../src/store/fake/memory-store.js';
import { Repo } from '../../../src/store/repo.js';
import { LISTENER_ARN, PREVIEW_LISTENER_ARN, TG_BLUE, TG_GREEN } from './elb.js';
import { FakeAws } from './fake-aws.js';
import { APP_PORT, CLUSTER, ecsSpec, fakeLogs } from './setup.js';

/** The engine's common fields (parsed as usual) with the ECS fields of `ecsSpec` on top. */
export function spec(
  version: string,
  extra: Record<string, unknown> = {},
  ecs: Record<string, unknown> = {},
): ServiceSpec {
  const common = serviceSchema.parse({
    runtime: 'process',
    command: 'unused',
    replicas: 2,
    probe: { http: { path: '/health' }, interval: '20ms', startTimeout: '5s' },
    traffic: { listen: '127.0.0.1:1', drainTimeout: '1s' },
    strategy: { type: 'replace' },
    ...extra,
  });
  return { ...common, ...ecsSpec({ VERSION: version }, ecs) } as unknown as ServiceSpec;
}

/** Baton's engine over the ECS runtime and the ALB router, both on the fake, in virtual time for AWS waits. */
export function setup(fakeOpts: ConstructorParameters<typeof FakeAws>[0] = {}) {
  const fake = new FakeAws(fakeOpts);
  const clients = fake.clients(new VirtualClock());
  const runtime = new EcsRuntime({
    clients,
    clusters: [CLUSTER],
    owner: 'o',
    pollIntervalMs: 1000,
    startTimeoutMs: 120_000,
    logs: fakeLogs(fake),
  });
  const router = new AlbRouter({
    clients,
    services: {
      web: {
        kind: 'alb',
        listenerArn: LISTENER_ARN,
        targetGroups: [TG_BLUE, TG_GREEN],
        previewListenerArn: PREVIEW_LISTENER_ARN,
        pollInterval: 1000,
        healthTimeout: 60_000,
      },
    },
  });
  const repo = new Repo(new MemoryStore());
  const deployer = new Deployer({
    repo,
    runtime,
    router,
    logger: silentLogger(),
    holder: 'test',
  });
  const events: DeployEvent[] = [];
  const deploy = (s: ServiceSpec) =>
    deployer.deploy({ service: 'web', spec: s, actor: 't' }, (e) => events.push(e));
  return { fake, runtime, router, repo, deployer, deploy, events };
}

/** `ip:port` of the running tasks of the services using a task definition revision (`family:n`). */
export function tasksOf(fake: FakeAws, td: string): string[] {
  return fake.ecs.tasks
    .filter((t) => t.task.lastStatus === 'RUNNING' && t.task.taskDefinitionArn?.endsWith(`/${td}`))
    .map((t) => `${t.task.attachments?.[0]?.details?.[0]?.value}:${APP_PORT}`)
    .sort();
}
