import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import { EcsRuntime } from '../../src/runtime/ecs/ecs-runtime.js';
import type { StartRequest } from '../../src/runtime/runtime.js';
import type { ServiceSpec } from '../../src/spec/schema.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';
import { serverError } from '../fakes/aws/faults.js';
import { CLUSTER, ecsSpec } from '../fakes/aws/setup.js';

describe('ecs runtime specifics', () => {
  let fake: FakeAws;
  afterEach(async () => {
    await fake.close();
  });
  const make = (owner = 'o') =>
    new EcsRuntime({
      clients: fake.clients(new VirtualClock()),
      clusters: [CLUSTER],
      owner,
      pollIntervalMs: 5000,
    });
  const request = (n = 1, over: Partial<StartRequest> = {}): StartRequest => ({
    id: `web-r1-d1-${n}`,
    service: 'web',
    revision: 1,
    deployment: 'd1',
    spec: ecsSpec({ VERSION: 'v1' }) as unknown as ServiceSpec,
    ...over,
  });

  it('start: the exact calls, with ECS field names, Baton tags and a client token', async () => {
    fake = new FakeAws();
    const i = await make().start(request());
    expect(fake.rec.ops()).toEqual([
      'DescribeServices', // is there a service of this instance already?
      'ListTaskDefinitions', // a task definition of this revision already registered?
      'RegisterTaskDefinition',
      'CreateService',
      'DescribeServices', // polled until stable (folded)
      'ListTasks',
      'DescribeTasks', // the task's private IP
    ]);
    const create = fake.calls.find((c) => c.op === 'CreateService')!.input;
    expect(create).toMatchObject({
      cluster: CLUSTER,
      serviceName: 'web-r1-d1-1',
      taskDefinition: expect.stringMatching(/task-definition\/baton-web:1$/),
      desiredCount: 1,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-0a1b2c3d'], assignPublicIp: 'DISABLED' },
      },
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } },
      propagateTags: 'SERVICE',
      clientToken: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(create.loadBalancers).toBeUndefined();
    expect(create.tags).toEqual(
      expect.arrayContaining([
        { key: 'baton:service', value: 'web' },
        { key: 'baton:revision', value: '1' },
        { key: 'baton:deployment', value: 'd1' },
        { key: 'baton:instance', value: 'web-r1-d1-1' },
        { key: 'baton:owner', value: 'o' },
      ]),
    );
    const td = fake.calls.find((c) => c.op === 'RegisterTaskDefinition')!.input as Record<string, never>;
    expect(td).toMatchObject({ family: 'baton-web', networkMode: 'awsvpc', cpu: '256', memory: '512' });
    expect(JSON.stringify(td)).not.toContain('secret-value');
    expect(i).toMatchObject({
      id: 'web-r1-d1-1',
      state: 'running',
      port: 18080,
      revision: 1,
      deployment: 'd1',
    });
    expect(i.host).toMatch(/^127\./);
  });

  it('a second instance of the revision reuses its task definition; a new runtime (a resumed deploy) finds both by tags', async () => {
    fake = new FakeAws();
    await make().start(request(1));
    const mark = fake.calls.length;
    await make().start(request(2));
    const second = fake.rec.ops((c) => fake.calls.indexOf(c) >= mark);
    expect(second).toContain('DescribeTaskDefinition');
    expect(second).not.toContain('RegisterTaskDefinition');
    const resumed = fake.calls.length;
    const again = await make().start(request(1));
    expect(fake.rec.ops((c) => fake.calls.indexOf(c) >= resumed)).toEqual([
      'DescribeServices',
      'ListTasks',
      'DescribeTasks',
    ]);
    expect(again.state).toBe('running');
    expect(fake.ecs.families.get('baton-web')).toHaveLength(1);
    expect((await make().list('web')).map((x) => x.id)).toEqual(['web-r1-d1-1', 'web-r1-d1-2']);
    expect(await make('someone-else').list()).toEqual([]);
  });

  it('lost answers of RegisterTaskDefinition and CreateService do not make a second one', async () => {
    fake = new FakeAws();
    fake.rec.failNext('RegisterTaskDefinition', serverError('ecs'), 'after');
    fake.rec.failNext('CreateService', serverError('ecs'), 'after');
    await make().start(request());
    expect(fake.ecs.families.get('baton-web')).toHaveLength(1);
    expect(fake.rec.writes('CreateService')).toHaveLength(2);
    expect(fake.ecs.active()).toHaveLength(1);
  });

  it('refuses secrets given as values and bad specs, naming the field; nothing is called', async () => {
    fake = new FakeAws();
    const bad = ecsSpec({}, { secrets: { DB_PASSWORD: 'hunter2' } });
    await expect(make().start(request(1, { spec: bad as unknown as ServiceSpec }))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/secrets\.DB_PASSWORD: expected a Secrets Manager or SSM parameter ARN/),
    });
    const noCluster = ecsSpec({}, { ecs: { container: { image: 'x' } } });
    await expect(
      make().start(request(1, { spec: noCluster as unknown as ServiceSpec })),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
    expect(fake.calls).toEqual([]);
  });

  it('a service that never becomes stable fails start with ECS’s own words after the timeout', async () => {
    fake = new FakeAws({ ecs: { neverStable: () => true } });
    const rt = new EcsRuntime({
      clients: fake.clients(new VirtualClock()),
      clusters: [CLUSTER],
      startTimeoutMs: 60_000,
    });
    await expect(rt.start(request())).rejects.toThrow(
      /ecs: service web-r1-d1-1 not stable after 60000 ms: 1 deployment\(s\): PRIMARY baton-web:1 IN_PROGRESS running 0\/1; running 0 of desired 1; latest events: \(service web-r1-d1-1\) was unable to place a task/,
    );
  });

  it('tasks that fail to start trip ECS’s circuit breaker: start fails at once with the reason, not at the timeout', async () => {
    fake = new FakeAws({ ecs: { failTasks: () => true } });
    const clock = new VirtualClock();
    const rt = new EcsRuntime({
      clients: fake.clients(clock),
      clusters: [CLUSTER],
      pollIntervalMs: 5000,
      startTimeoutMs: 600_000,
    });
    await expect(rt.start(request())).rejects.toThrow(
      /ecs: service web-r1-d1-1 failed to start: .*FAILED running 0\/1, 3 failed task\(s\) \(ECS deployment circuit breaker: tasks failed to start\.\).*CannotPullContainerError/,
    );
    expect(clock.now()).toBeLessThan(60_000);
  });

  it('start of an instance Baton stopped runs it again (same service, desiredCount back to 1)', async () => {
    fake = new FakeAws();
    const rt = make();
    await rt.start(request());
    await rt.stop('web-r1-d1-1', 1000);
    expect((await rt.get('web-r1-d1-1'))?.state).toBe('stopped');
    const again = await rt.start(request());
    expect(again.state).toBe('running');
    expect(fake.rec.writes('CreateService')).toHaveLength(1);
  });
});
