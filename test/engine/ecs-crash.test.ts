import { afterEach, describe, expect, it } from 'vitest';
import { ecsWorld } from './crash/ecs-world.js';
import { crashAt, type KillPoint } from './crash/every-step.js';

/**
 * Issue 6: an ECS + ALB deploy interrupted mid-way is recovered through the engine's journal. The
 * control plane (store, drivers, AWS clients) dies right after each journal entry of a deploy, or in
 * the middle of a wait; a new one over the same data dir and the same AWS recovers it (forward once
 * traffic moved, else back) with one set serving, nothing orphaned or made twice; the next deploy works.
 */
describe('engine × ecs × alb: the control plane dies in the middle of a deploy', () => {
  let env: ReturnType<typeof ecsWorld> | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const bothWays = (outcomes: Array<{ state: string }>) =>
    expect(new Set(outcomes.map((o) => o.state))).toEqual(new Set(['succeeded', 'rolled-back']));

  it('replace, 2 replicas: at every journaled step', async () => {
    env = ecsWorld({ strategy: { type: 'replace' } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    bothWays(outcomes);
  }, 300_000);

  it('canary 10 % → 50 % through two target groups, 2 replicas: at every journaled step', async () => {
    env = ecsWorld({ strategy: { type: 'canary', steps: [{ setWeight: 10 }, { setWeight: 50 }] } });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(14);
    bothWays(outcomes);
  }, 300_000);

  it('replace with 30 % of AWS calls failing (throttling, 500): at every journaled step', async () => {
    env = ecsWorld({ strategy: { type: 'replace' } });
    env.fake.inject({ rate: 0.3 });
    const { outcomes } = await crashAt(env.world, 'journal');
    expect(outcomes.length).toBeGreaterThanOrEqual(10);
    bothWays(outcomes);
    expect(env.fake.calls.filter((c) => c.fault).length).toBeGreaterThan(30);
  }, 300_000);

  /** Dies right after the `n`th answer to an AWS command for which `when` holds (the answer is lost). */
  const dieAfter = (name: string, command: string, n = 1, when: (r: unknown) => boolean = () => true) => {
    let seen = 0;
    return {
      name,
      after: (m: string, args: unknown[], r: unknown) =>
        m === 'send' &&
        (args[0] as object).constructor.name === `${command}Command` &&
        when(r) &&
        ++seen === n,
    } satisfies KillPoint;
  };
  const notStable = (r: unknown) =>
    (r as { services?: Array<{ runningCount?: number }> }).services?.some((s) => s.runningCount === 0) ??
    false;
  const initial = (r: unknown) =>
    (
      r as { TargetHealthDescriptions?: Array<{ TargetHealth?: { State?: string } }> }
    ).TargetHealthDescriptions?.some((h) => h.TargetHealth?.State === 'initial') ?? false;

  it('replace: in the middle of AWS calls and waits', async () => {
    env = ecsWorld({ strategy: { type: 'replace' } });
    const { outcomes } = await crashAt(env.world, [
      // RegisterTaskDefinition has no idempotency token: the driver finds its own by tags first.
      dieAfter('a task definition registered', 'RegisterTaskDefinition'),
      // CreateService's clientToken: a repeat gets the same service.
      dieAfter('the first service created', 'CreateService'),
      dieAfter('waiting for the new services to be stable', 'DescribeServices', 1, notStable),
      dieAfter('a target group tagged for the new revision', 'AddTags'),
      dieAfter('the new targets registered', 'RegisterTargets'),
      dieAfter('waiting for the new targets to be healthy', 'DescribeTargetHealth', 1, initial),
      dieAfter('the listener moved to the new group', 'ModifyListener'),
      dieAfter('the old targets deregistered', 'DeregisterTargets'),
      dieAfter('an old service scaled to 0', 'UpdateService'),
      dieAfter('an old service deleted', 'DeleteService'),
    ]);
    expect(outcomes).toHaveLength(10);
    bothWays(outcomes);
  }, 300_000);

  it('onInterrupt forward: killed in the middle of AWS waits, the deploy resumes, nothing made twice', async () => {
    env = ecsWorld({ strategy: { type: 'replace', onInterrupt: 'forward' } });
    const { outcomes } = await crashAt(env.world, [
      dieAfter('a task definition registered', 'RegisterTaskDefinition'),
      dieAfter('the first service created', 'CreateService'),
      dieAfter('waiting for the new services to be stable', 'DescribeServices', 1, notStable),
      dieAfter('the new targets registered', 'RegisterTargets'),
      dieAfter('waiting for the new targets to be healthy', 'DescribeTargetHealth', 1, initial),
    ]);
    expect(outcomes.map((o) => o.state)).toEqual(Array(5).fill('succeeded'));
    // A repeated CreateService (if the lookup did not find the service first) carried the same
    // clientToken: one token per service name.
    const tokens = new Map<string, Set<unknown>>();
    for (const c of env!.fake.calls.filter((x) => x.op === 'CreateService'))
      tokens.set(
        String(c.input.serviceName),
        (tokens.get(String(c.input.serviceName)) ?? new Set()).add(c.input.clientToken),
      );
    expect([...tokens.values()].every((t) => t.size === 1)).toBe(true);
    expect(tokens.size).toBe(env!.fake.ecs.services.size);
  }, 300_000);
});
