import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import { CallLog } from '../../src/cloud/planned.js';
import { silentLogger } from '../../src/core/logger.js';
import { Deployer } from '../../src/engine/deployer.js';
import { AlbRouter } from '../../src/router/alb/router.js';
import { EcsRuntime } from '../../src/runtime/ecs/ecs-runtime.js';
import { LISTENER_ARN, PREVIEW_LISTENER_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { setup, spec } from '../fakes/aws/engine.js';
import { CLUSTER } from '../fakes/aws/setup.js';

/** `baton plan` for ECS behind an ALB: every call a deploy would make, from what exists; nothing changes. */
describe('dry run of an ECS deploy (baton plan)', () => {
  let env: ReturnType<typeof setup>;
  afterEach(async () => {
    await env.runtime.close();
    await env.router.close();
    await env.fake.close();
  });

  it('lists each step’s calls with their bodies, reads for real, and the fakes record no write', async () => {
    env = setup();
    const { fake, deploy, repo, runtime, router } = env;
    expect(await deploy(spec('v1', { replicas: 1 }))).toMatchObject({ ok: true });
    const clients = fake.clients(new VirtualClock());
    const planner = new Deployer({
      repo,
      runtime,
      router,
      logger: silentLogger(),
      holder: 'plan',
      dryRun: () => {
        const log = new CallLog();
        return {
          log,
          runtime: new EcsRuntime({ clients, clusters: [CLUSTER], owner: 'o', dryRun: log }),
          router: new AlbRouter({
            clients,
            dryRun: log,
            routes: router.snapshot(),
            services: {
              web: {
                kind: 'alb',
                listenerArn: LISTENER_ARN,
                targetGroups: [TG_BLUE, TG_GREEN],
                previewListenerArn: PREVIEW_LISTENER_ARN,
              },
            },
          }),
          close: async () => undefined,
        };
      },
    });
    const writesBefore = fake.rec.writes().length;
    const servingBefore = fake.elb.serving();
    const p = await planner.preview('web', spec('v2', { replicas: 1 }));
    expect(fake.rec.writes().length).toBe(writesBefore);
    expect(fake.elb.serving()).toEqual(servingBefore);
    const byStep = Object.fromEntries((p.calls ?? []).map((s) => [s.op, s.calls.map((c) => c.op)]));
    expect(byStep).toEqual({
      'ensure-route': [],
      start: ['RegisterTaskDefinition', 'CreateService'],
      'await-healthy': [],
      switch: ['AddTags', 'RegisterTargets', 'ModifyListener', 'DeregisterTargets'],
      drain: [],
      stop: ['TagResource', 'UpdateService', 'DeleteService'],
    });
    const start = p.calls?.find((s) => s.op === 'start')?.calls ?? [];
    expect(start[0]?.body).toMatchObject({
      family: 'baton-web',
      containerDefinitions: [
        {
          secrets: [{ name: 'DB_PASSWORD', valueFrom: expect.stringMatching(/^arn:aws:secretsmanager:/) }],
        },
      ],
    });
    expect(start[1]?.body).toMatchObject({
      serviceName: expect.stringMatching(/^web-r2-/),
      taskDefinition: '<task definition baton-web for web revision 2>',
    });
    expect(start[1]?.awaits).toMatch(/DescribeServices until stable/);
    const sw = p.calls?.find((s) => s.op === 'switch')?.calls ?? [];
    expect(sw[1]?.body).toMatchObject({
      TargetGroupArn: TG_GREEN,
      Targets: [{ Id: expect.stringMatching(/^<private-ip-of-web-r2-/), Port: 18080 }],
    });
    expect(sw[2]?.body).toMatchObject({
      DefaultActions: [
        {
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: TG_BLUE, Weight: 0 },
              { TargetGroupArn: TG_GREEN, Weight: 1 },
            ],
          },
        },
      ],
    });
    expect(sw[3]?.body).toMatchObject({ TargetGroupArn: TG_BLUE });
  });
});
