import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Tag } from '@aws-sdk/client-ecs';
import { expect } from 'vitest';
import { withClients } from '../../../src/cloud/aws/clients.js';
import { VirtualClock } from '../../../src/cloud/clock.js';
import { type ServiceSpec, serviceSchema } from '../../../src/spec/schema.js';
import { LISTENER_ARN, TG_BLUE, TG_GREEN } from '../../fakes/aws/elb.js';
import { FakeAws } from '../../fakes/aws/fake-aws.js';
import { APP_PORT, ecsSpec } from '../../fakes/aws/setup.js';
import type { CloudWorld } from './every-step.js';
import type { Mortal } from './mortal.js';

const tag = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.key === key)?.value;

/**
 * `runtime: ecs` + `router: alb` against one AWS fake (aws-sdk-client-mock) for control planes that die:
 * each gets its own AwsClients over the mocked SDK clients, every call cut when it dies.
 */
export function ecsWorld(extra: Record<string, unknown> = {}, replicas = 2) {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-ecs-crash-'));
  const fake = new FakeAws();
  const owner = resolve(dataDir);
  const ours = () =>
    [...fake.ecs.services.values()]
      .map((s) => s.service)
      .filter((s) => tag(s.tags, 'baton:owner') === owner && tag(s.tags, 'baton:service') === 'web');
  const spec = (version: string): ServiceSpec =>
    serviceSchema.parse({
      ...ecsSpec({ VERSION: version }),
      replicas,
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
  const world: CloudWorld = {
    dataDir,
    service: 'web',
    replicas,
    spec,
    drivers: (m: Mortal) => ({
      ecsClusters: ['prod'],
      awsClients: () =>
        withClients(m.wrap(fake.ecsClient, 'ecs'), m.wrap(fake.elbClient, 'elb'), {
          clock: m.clock(new VirtualClock()),
          retry: { baseDelayMs: 100, maxDelayMs: 2000, maxAttempts: 10, deadlineMs: 600_000 },
          random: () => 0.5,
        }),
    }),
    async check(revision, where) {
      const active = ours().filter((s) => s.status === 'ACTIVE');
      expect(
        active.map((s) => [Number(tag(s.tags, 'baton:revision')), s.desiredCount]),
        `${where}: ACTIVE ECS services`,
      ).toEqual(Array.from({ length: replicas }, () => [revision, 1]));
      // Every service of a revision runs its one task definition, registered once.
      const tds = new Set(active.map((s) => s.taskDefinition));
      expect(tds.size, `${where}: task definitions in use`).toBe(1);
      const perRevision = new Map<string, number>();
      for (const list of fake.ecs.families.values())
        for (const { tags } of list) {
          const k = `${tag(tags, 'baton:revision')}|${tag(tags, 'baton:spec')}`;
          perRevision.set(k, (perRevision.get(k) ?? 0) + 1);
        }
      expect(
        [...perRevision].filter(([, n]) => n > 1),
        `${where}: task definitions registered twice`,
      ).toEqual([]);
      const running = fake.ecs.tasks
        .filter(
          (t) =>
            t.task.lastStatus === 'RUNNING' &&
            t.task.desiredStatus === 'RUNNING' &&
            active.some((s) => s.serviceName === t.service),
        )
        .map((t) => `${t.task.attachments?.[0]?.details?.[0]?.value}:${APP_PORT}`)
        .sort();
      expect(running, `${where}: running tasks`).toHaveLength(replicas);
      expect(fake.elb.serving(), `${where}: targets serving through the listener`).toEqual(running);
      // Nothing else registered (targets on their way out of a group may still be draining).
      const registered = [TG_BLUE, TG_GREEN]
        .flatMap((tg) => Object.entries(fake.elb.targets(tg)))
        .filter(([, state]) => state !== 'draining')
        .map(([k]) => k)
        .sort();
      expect(registered, `${where}: registered targets`).toEqual(running);
      const weights = Object.values(fake.elb.weights()).filter((w) => w > 0);
      expect(weights, `${where}: target groups with weight`).toHaveLength(1);
    },
  };
  return {
    world,
    fake,
    async close() {
      await fake.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
