import { afterEach, describe, expect, it } from 'vitest';
import { PREVIEW_LISTENER_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { setup, spec, tasksOf } from '../fakes/aws/engine.js';
import { serverError } from '../fakes/aws/faults.js';

describe('ECS behind an ALB, driven by Baton’s engine', () => {
  let env: ReturnType<typeof setup>;
  afterEach(async () => {
    await env.runtime.close();
    await env.router.close();
    await env.fake.close();
  });

  it('replace: the writes of a deploy, in order; v2 serves from its own target group, v1 is gone', async () => {
    env = setup();
    const { fake, deploy } = env;
    expect(await deploy(spec('v1', { replicas: 1 }))).toMatchObject({ ok: true });
    const first = fake.calls.length;
    expect(await deploy(spec('v2', { replicas: 1 }))).toMatchObject({ ok: true, revision: 2 });
    const writes = fake.calls
      .slice(first)
      .filter((c) => !c.fault && !/^(Describe|List)/.test(c.op))
      .map((c) => c.op);
    expect(writes).toEqual([
      'RegisterTaskDefinition', // revision 2's task definition (tagged)
      'CreateService', // the new instance: an ECS service of one task
      'AddTags', // the free target group is tagged with revision 2
      'RegisterTargets', // its task IP in the free target group
      'ModifyListener', // weights: all to the new group (after ALB said healthy)
      'DeregisterTargets', // v1's target: ALB drains it
      'TagResource', // v1's service marked stopped
      'UpdateService', // desiredCount 0: SIGTERM
      'DeleteService',
    ]);
    // ALB said healthy before the weights moved; the old target was drained before its task stopped.
    const ops = fake.rec.ops().slice(fake.rec.ops().indexOf('CreateService', 2));
    expect(ops.indexOf('ModifyListener')).toBeGreaterThan(ops.indexOf('DescribeTargetHealth'));
    expect(ops.lastIndexOf('DescribeTargetHealth')).toBeLessThan(ops.lastIndexOf('UpdateService'));
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 0, [TG_GREEN]: 1 });
    expect(fake.ecs.active().map((s) => s.taskDefinition?.split('/').pop())).toEqual(['baton-web:2']);
    const td = fake.ecs.families.get('baton-web')?.[1]?.td.containerDefinitions?.[0];
    expect(td?.secrets).toEqual([
      { name: 'DB_PASSWORD', valueFrom: expect.stringMatching(/^arn:aws:secretsmanager:/) },
    ]);
    expect(td?.environment).toContainEqual({ name: 'VERSION', value: 'v2' });
  });

  it('with 30% of calls throttled or failing with 500, the deploy completes with exactly one new task definition and one service per instance', async () => {
    env = setup();
    const { fake, deploy } = env;
    expect(await deploy(spec('v1'))).toMatchObject({ ok: true });
    fake.inject({ rate: 0.3 });
    // Besides the random faults: answers lost after the write ran, where a blind retry would duplicate.
    fake.rec.failNext('RegisterTaskDefinition', serverError('ecs'), 'after');
    fake.rec.failNext('CreateService', serverError('ecs'), 'after');
    fake.rec.failNext('RegisterTargets', serverError('elb'), 'after');
    expect(await deploy(spec('v2'))).toMatchObject({ ok: true, revision: 2 });
    fake.inject(null);
    const faults = fake.calls.filter((c) => c.fault);
    expect(faults.length).toBeGreaterThan(5);
    const kinds = new Set(faults.map((c) => c.fault?.error));
    expect(kinds.has('ThrottlingException') || kinds.has('Throttling')).toBe(true);
    expect(kinds.has('ServerException') || kinds.has('InternalFailure')).toBe(true);
    expect(faults.some((c) => c.fault?.when === 'after')).toBe(true);
    expect(fake.ecs.families.get('baton-web')?.map((e) => e.td.revision)).toEqual([1, 2]);
    const services = fake.ecs.active();
    expect(services.map((s) => s.deployments?.length)).toEqual([1, 1]);
    expect(services.map((s) => s.taskDefinition?.split('/').pop())).toEqual(['baton-web:2', 'baton-web:2']);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
    expect(tasksOf(fake, 'baton-web:2')).toHaveLength(2);
  });

  it('a service that never becomes stable: rollback, the old task definition still serving, the error says why', async () => {
    env = setup({ ecs: { neverStable: (name) => name.startsWith('web-r2') } });
    const { fake, deploy } = env;
    expect(await deploy(spec('v1'))).toMatchObject({ ok: true });
    const before = fake.elb.serving();
    const r = await deploy(spec('v2'));
    expect(r).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(r.error?.message).toMatch(
      /service web-r2-\S+ not stable after 120000 ms: 1 deployment\(s\).*running 0 of desired 1/,
    );
    expect(r.error?.message).toMatch(/unable to place a task/);
    // History says why, too.
    const rev2 = await env.repo.getRevision('web', 2);
    expect(rev2).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/not stable after 120000 ms/),
    });
    expect((await env.repo.getService('web'))?.current).toBe(1);
    expect(fake.elb.serving()).toEqual(before);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:1'));
    expect(fake.ecs.active().map((s) => s.taskDefinition?.split('/').pop())).toEqual([
      'baton-web:1',
      'baton-web:1',
    ]);
    // The production listener changed once, for v1; never during the failed deploy or its rollback.
    expect(fake.elb.actionHistory).toHaveLength(1);
  });

  it('targets that never pass the ALB health check: rollback before any weight moves, the error names the target and ALB’s reason', async () => {
    const isV2 = (key: string) =>
      env.fake.ecs.tasks.some(
        (t) =>
          key.startsWith(`${t.task.attachments?.[0]?.details?.[0]?.value}:`) &&
          t.task.taskDefinitionArn?.endsWith(':2'),
      );
    env = setup({ elb: { neverHealthy: (key) => isV2(key) } });
    const { fake, deploy } = env;
    expect(await deploy(spec('v1'))).toMatchObject({ ok: true });
    const weights = fake.elb.weights();
    const r = await deploy(spec('v2'));
    expect(r).toMatchObject({ ok: false, state: 'rolled-back' });
    expect(r.error?.message).toMatch(
      /targets of web revision 2 in \S+ not healthy after 60000 ms: 127\.\d+\.\d+\.\d+:18080 unhealthy \(Target\.ResponseCodeMismatch/,
    );
    expect(fake.elb.weights()).toEqual(weights);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:1'));
    expect(fake.ecs.active().map((s) => s.taskDefinition?.split('/').pop())).toEqual([
      'baton-web:1',
      'baton-web:1',
    ]);
  });

  it('canary: the split is the two target groups’ weights in the listener, step by step', async () => {
    env = setup();
    const { fake, deploy } = env;
    const canary = { strategy: { type: 'canary', steps: [{ setWeight: 10 }, { setWeight: 50 }] } };
    expect(await deploy(spec('v1', canary))).toMatchObject({ ok: true });
    const from = fake.elb.actionHistory.length;
    expect(await deploy(spec('v2', canary))).toMatchObject({ ok: true });
    const seen = fake.elb.actionHistory.slice(from).map((a) => {
      const groups = a[0]?.ForwardConfig?.TargetGroups ?? [];
      return groups.map((g) => g.Weight);
    });
    // blue carries v1, green v2: 90/10, 50/50, then all to green and the split ends.
    expect(seen).toContainEqual([90, 10]);
    expect(seen).toContainEqual([50, 50]);
    expect(seen.map((w) => w.join())).toEqual(expect.arrayContaining(['90,10', '50,50']));
    expect(seen.findIndex((w) => w.join() === '90,10')).toBeLessThan(
      seen.findIndex((w) => w.join() === '50,50'),
    );
    expect(fake.elb.weights()[TG_BLUE]).toBe(0);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
  });

  it('blue-green: the new set waits in the other target group behind the preview listener, then one listener change switches', async () => {
    env = setup();
    const { fake, deploy } = env;
    const bg = {
      strategy: { type: 'blue-green', autoPromote: '10ms', scaleDownDelay: '10ms' },
      traffic: { listen: '127.0.0.1:1', preview: '127.0.0.1:2', drainTimeout: '1s' },
    };
    expect(await deploy(spec('v1', bg))).toMatchObject({ ok: true });
    const from = fake.elb.actionHistory.length;
    const previewForwards: string[] = [];
    const origin = fake.elb.modifyListener.bind(fake.elb);
    fake.elb.modifyListener = (input) => {
      if (input.ListenerArn === PREVIEW_LISTENER_ARN)
        previewForwards.push(
          input.DefaultActions[0]?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn ?? 'none',
        );
      return origin(input);
    };
    expect(await deploy(spec('v2', bg))).toMatchObject({ ok: true });
    // Testers reached v2 (green) on the preview listener before the switch; then it went back to a 503.
    expect(previewForwards).toEqual([TG_GREEN, 'none']);
    expect(
      fake.elb.actionHistory
        .slice(from)
        .map((a) => a[0]?.ForwardConfig?.TargetGroups?.map((g) => g.Weight).join()),
    ).toEqual(['0,2']);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
  });

  it('rolling: each listener change weighs the groups by their serving backends; capacity never drops, nothing is ever all-zero', async () => {
    env = setup();
    const { fake, deploy } = env;
    const rolling = { replicas: 3, strategy: { type: 'rolling', maxSurge: 1, maxUnavailable: 0 } };
    expect(await deploy(spec('v1', rolling))).toMatchObject({ ok: true });
    const from = fake.elb.actionHistory.length;
    expect(await deploy(spec('v2', rolling))).toMatchObject({ ok: true });
    const seen = fake.elb.actionHistory
      .slice(from)
      .map((a) => (a[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => g.Weight ?? 0));
    // maxSurge 1, maxUnavailable 0: one new in, one old out, three at least serving at every change.
    expect(seen).toEqual([
      [3, 1],
      [2, 1],
      [2, 2],
      [1, 2],
      [1, 3],
      [0, 3],
    ]);
    for (const [blue, green] of seen) expect((blue ?? 0) + (green ?? 0)).toBeGreaterThanOrEqual(3);
    expect(fake.elb.serving()).toEqual(tasksOf(fake, 'baton-web:2'));
  });
});
