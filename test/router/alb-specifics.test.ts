import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/cloud/clock.js';
import { AlbRouter } from '../../src/router/alb/router.js';
import type { AlbRouteInput } from '../../src/router/alb/settings.js';
import type { Backend } from '../../src/router/router.js';
import { LISTENER_ARN, RULE_ARN, TG_BLUE, TG_GREEN } from '../fakes/aws/elb.js';
import { FakeAws } from '../fakes/aws/fake-aws.js';

const S = 'web';
const a: Backend = { id: 'a', address: '10.0.1.5:8080', revision: 1 };
const b: Backend = { id: 'b', address: '10.0.1.6:8080', revision: 1 };
const c: Backend = { id: 'c', address: '10.0.2.7:8080', revision: 2 };
const d: Backend = { id: 'd', address: '10.0.2.8:8080', revision: 3 };

describe('alb router specifics', () => {
  let fake: FakeAws;
  let clock: VirtualClock;
  afterEach(async () => {
    await fake.close();
  });
  const make = async (
    settings: Partial<AlbRouteInput> = {},
    fakeOpts: ConstructorParameters<typeof FakeAws>[0] = {},
  ) => {
    fake = new FakeAws(fakeOpts);
    clock = new VirtualClock();
    const router = new AlbRouter({
      clients: fake.clients(clock),
      services: {
        web: { kind: 'alb', listenerArn: LISTENER_ARN, targetGroups: [TG_BLUE, TG_GREEN], ...settings },
      },
    });
    await router.ensureRoute({ service: S, listen: 'web.example.com:80', drainTimeoutMs: 30_000 });
    return router;
  };

  it('switchTo: register the new target, wait until ALB says healthy, one ModifyListener, then deregister the old', async () => {
    const r = await make({}, { elb: { healthyAfter: 3 } });
    await r.addBackends(S, [a]);
    const mark = fake.calls.length;
    const slept = clock.sleeps.length;
    await r.switchTo(S, ['c'], [c]);
    const calls = fake.calls
      .slice(mark)
      .map(
        (x) =>
          `${x.op}${x.op === 'DescribeTargetHealth' ? ` ${(x.input.TargetGroupArn as string).includes('blue') ? 'blue' : 'green'}` : ''}`,
      );
    expect(calls).toEqual([
      'AddTags', // green now carries revision 2 (written before any target goes in)
      'DescribeTargetHealth blue',
      'DescribeTargetHealth green',
      'RegisterTargets', // c in green
      'DescribeTargetHealth green', // initial (1st look)
      'DescribeTargetHealth green', // initial
      'DescribeTargetHealth green', // initial
      'DescribeTargetHealth green', // healthy (after 3 looks at initial)
      'ModifyListener', // blue 0, green 1
      'DeregisterTargets', // a from blue: ALB drains it
    ]);
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 0, [TG_GREEN]: 1 });
    expect(fake.elb.targets(TG_BLUE)).toEqual({ '10.0.1.5:8080': 'draining' });
    expect(clock.sleeps.slice(slept)).toEqual([5000, 5000, 5000]);
  });

  it('a split is the groups’ weights; sticky → target group stickiness; a third revision is refused and changes nothing', async () => {
    const r = await make();
    await r.addBackends(S, [a, b]);
    await r.addBackends(S, [c], { standby: true });
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 2, [TG_GREEN]: 0 });
    await r.setSplit(S, {
      weights: [
        { revision: 1, percent: 90 },
        { revision: 2, percent: 10 },
      ],
      sticky: true,
    });
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 0 }); // c is standby: not serving yet
    await r.addBackends(S, [c]);
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 90, [TG_GREEN]: 10 });
    const action = fake.elb.listeners.get(LISTENER_ARN)?.DefaultActions?.[0];
    expect(action?.ForwardConfig?.TargetGroupStickinessConfig).toEqual({
      Enabled: true,
      DurationSeconds: 3600,
    });
    await expect(r.addBackends(S, [d])).rejects.toThrow(
      /both target groups are in use \(revisions 1 and 2\)/,
    );
    expect((await r.status(S))?.backends.map((x) => x.id)).toEqual(['a', 'b', 'c']);
    // Once revision 1 is gone, its group is free for revision 3.
    await r.switchTo(S, ['c']);
    await r.removeBackends(S, ['a', 'b']);
    await r.addBackends(S, [d], { standby: true });
    expect(fake.elb.targets(TG_BLUE)).toMatchObject({ '10.0.2.8:8080': 'initial' });
  });

  it('waitDrained waits while ALB says draining and reports targets still draining at the timeout', async () => {
    const r = await make({ pollInterval: 1000 }, { elb: { drainAfter: 4 } });
    await r.addBackends(S, [a, b]);
    await r.drain(S, ['a']);
    const t0 = clock.now();
    expect(await r.waitDrained(S, ['a'], 60_000)).toEqual({ drained: true, inFlight: 0, waitedMs: 4000 });
    expect(clock.now() - t0).toBe(4000);
    await r.drain(S, ['b']);
    expect(await r.waitDrained(S, ['b'], 2500)).toEqual({ drained: false, inFlight: 1, waitedMs: 2500 });
  });

  it('setHealthy(false) deregisters, maintenance is a fixed 503 with the page, hold and preview without a listener are DriverErrors', async () => {
    const r = await make();
    await r.addBackends(S, [a, b]);
    await r.setHealthy(S, 'a', false);
    expect(fake.elb.targets(TG_BLUE)).toEqual({ '10.0.1.5:8080': 'draining', '10.0.1.6:8080': 'healthy' });
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 1, [TG_GREEN]: 0 });
    await r.setMode(S, { kind: 'maintenance', body: 'back soon' });
    expect(fake.elb.listeners.get(LISTENER_ARN)?.DefaultActions).toEqual([
      {
        Type: 'fixed-response',
        FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'back soon' },
      },
    ]);
    await expect(r.setMode(S, { kind: 'hold', maxMs: 1000 })).rejects.toMatchObject({
      code: 'DRIVER',
      message: expect.stringMatching(/an ALB cannot hold requests/),
    });
    await expect(r.setPreview(S, 2)).rejects.toMatchObject({
      code: 'DRIVER',
      message: expect.stringMatching(/previewListenerArn/),
    });
    await r.setMode(S, { kind: 'serve' });
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 1, [TG_GREEN]: 0 });
  });

  it('never deregisters targets it did not register; a wrong target type is refused at ensureRoute', async () => {
    const r = await make();
    fake.elb.registerTargets({ TargetGroupArn: TG_BLUE, Targets: [{ Id: '10.9.9.9', Port: 80 }] });
    await r.addBackends(S, [a]);
    await r.removeBackends(S, ['a']);
    expect(Object.keys(fake.elb.targets(TG_BLUE))).toContain('10.9.9.9:80');
    expect(fake.rec.writes('DeregisterTargets').map((x) => x.input.Targets)).toEqual([
      [{ Id: '10.0.1.5', Port: 8080 }],
    ]);
    fake.elb.groups.get(TG_GREEN)!.TargetType = 'instance';
    const other = new AlbRouter({
      clients: fake.clients(clock),
      services: { web: { kind: 'alb', listenerArn: LISTENER_ARN, targetGroups: [TG_BLUE, TG_GREEN] } },
    });
    await expect(other.ensureRoute({ service: S, listen: 'x:80', drainTimeoutMs: 1 })).rejects.toThrow(
      /target type instance; .* must be "ip"/,
    );
  });

  it('with 30% of ELBv2 calls throttled or failing, every change still lands exactly', async () => {
    const r = await make();
    fake.inject({ rate: 0.3 });
    await r.addBackends(S, [a, b]);
    await r.switchTo(S, ['c'], [c]);
    await r.removeBackends(S, ['a', 'b']);
    fake.inject(null);
    expect(fake.calls.filter((x) => x.fault).length).toBeGreaterThan(0);
    expect(fake.elb.weights()).toEqual({ [TG_BLUE]: 0, [TG_GREEN]: 1 });
    expect(fake.elb.serving()).toEqual(['10.0.2.7:8080']);
  });

  it('with ruleArn, Baton owns that rule’s actions and leaves the listener’s default action alone', async () => {
    const r = await make({ ruleArn: RULE_ARN });
    const before = fake.elb.listeners.get(LISTENER_ARN)?.DefaultActions;
    await r.addBackends(S, [a]);
    await r.switchTo(S, ['c'], [c]);
    expect(fake.elb.listeners.get(LISTENER_ARN)?.DefaultActions).toEqual(before);
    expect(fake.elb.rules.get(RULE_ARN)?.Actions[0]?.ForwardConfig?.TargetGroups).toEqual([
      { TargetGroupArn: TG_BLUE, Weight: 0 },
      { TargetGroupArn: TG_GREEN, Weight: 1 },
    ]);
    expect(fake.rec.ops()).toContain('DescribeRules');
    expect(fake.rec.ops()).not.toContain('ModifyListener');
  });

  it('a restarted control plane (a new router) puts the serving revision back in the group that carries it: nothing moves', async () => {
    const r = await make();
    await r.addBackends(S, [a]);
    await r.switchTo(S, ['c'], [c]);
    await r.removeBackends(S, ['a']);
    expect(fake.elb.tagsOf.get(TG_GREEN)?.get('baton:revision')).toBe('2');
    const weights = fake.elb.weights();
    const mark = fake.calls.length;
    const again = new AlbRouter({
      clients: fake.clients(clock),
      services: { web: { kind: 'alb', listenerArn: LISTENER_ARN, targetGroups: [TG_BLUE, TG_GREEN] } },
    });
    await again.ensureRoute({ service: S, listen: 'web.example.com:80', drainTimeoutMs: 30_000 });
    await again.addBackends(S, [c]);
    const writes = fake.rec.writes().filter((x) => fake.calls.indexOf(x) >= mark);
    expect(writes.map((x) => x.op)).toEqual(['ModifyListener']); // the same weights, re-applied once
    expect(fake.elb.weights()).toEqual(weights);
    expect(fake.elb.serving()).toEqual(['10.0.2.7:8080']);
    expect(fake.elb.targets(TG_BLUE)).toEqual({});
  });

  it('removeRoute deregisters its targets; moving a route with targets to other target groups is refused', async () => {
    const r = await make();
    await r.addBackends(S, [a, b]);
    await expect(
      r.ensureRoute({
        service: S,
        listen: 'web.example.com:80',
        drainTimeoutMs: 1,
        router: { kind: 'alb', listenerArn: LISTENER_ARN, targetGroups: [TG_GREEN, TG_BLUE] } as never,
      }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/before moving it/) });
    await r.removeRoute(S);
    expect(fake.elb.targets(TG_BLUE)).toEqual({ '10.0.1.5:8080': 'draining', '10.0.1.6:8080': 'draining' });
    expect(await r.status(S)).toBeUndefined();
  });
});
