import * as ecs from '@aws-sdk/client-ecs';
import * as elb from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { type AwsClients, withClients } from '../../../src/cloud/aws/clients.js';
import type { Clock } from '../../../src/cloud/clock.js';
import { type EcsOptions, FakeEcs } from './ecs.js';
import { type ElbOptions, FakeElb } from './elb.js';
import { type Call, type FaultPlan, Recorder } from './faults.js';

export type { Call, FaultPlan };

type Handler = (input: never) => unknown;

/**
 * ECS and ELBv2 behind `aws-sdk-client-mock`: every command the drivers send reaches a small stateful
 * fake (FakeEcs, FakeElb) through one Recorder that records the call and injects faults. Real SDK
 * clients, real command objects, the SDK's own input and output shapes.
 */
export class FakeAws {
  readonly rec = new Recorder();
  readonly ecs: FakeEcs;
  readonly elb: FakeElb;
  private readonly ecsMock: ReturnType<typeof mockClient>;
  private readonly elbMock: ReturnType<typeof mockClient>;
  readonly ecsClient = new ecs.ECSClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  readonly elbClient = new elb.ElasticLoadBalancingV2Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });

  constructor(opts: { ecs?: Partial<EcsOptions>; elb?: Partial<ElbOptions> } = {}) {
    this.ecs = new FakeEcs({ stableAfter: 2, neverStable: () => false, failTasks: () => false, ...opts.ecs });
    this.elb = new FakeElb({ healthyAfter: 1, drainAfter: 1, neverHealthy: () => false, ...opts.elb });
    this.ecsMock = mockClient(this.ecsClient) as unknown as ReturnType<typeof mockClient>;
    this.elbMock = mockClient(this.elbClient) as unknown as ReturnType<typeof mockClient>;
    const e = this.ecs;
    const ecsOps: Array<[new (i: never) => unknown, Handler]> = [
      [ecs.RegisterTaskDefinitionCommand, (i) => e.registerTaskDefinition(i)],
      [ecs.ListTaskDefinitionsCommand, (i) => e.listTaskDefinitions(i)],
      [ecs.DescribeTaskDefinitionCommand, (i) => e.describeTaskDefinition(i)],
      [ecs.CreateServiceCommand, (i) => e.createService(i)],
      [ecs.DescribeServicesCommand, (i) => e.describeServices(i)],
      [ecs.UpdateServiceCommand, (i) => e.updateService(i)],
      [ecs.DeleteServiceCommand, (i) => e.deleteService(i)],
      [ecs.ListServicesCommand, (i) => e.listServices(i)],
      [ecs.ListTasksCommand, (i) => e.listTasks(i)],
      [ecs.DescribeTasksCommand, (i) => e.describeTasks(i)],
      [ecs.TagResourceCommand, (i) => e.tagResource(i)],
    ];
    const b = this.elb;
    const elbOps: Array<[new (i: never) => unknown, Handler]> = [
      [elb.DescribeListenersCommand, (i) => b.describeListeners(i)],
      [elb.DescribeTargetGroupsCommand, (i) => b.describeTargetGroups(i)],
      [elb.DescribeLoadBalancersCommand, () => b.describeLoadBalancers()],
      [elb.RegisterTargetsCommand, (i) => b.registerTargets(i)],
      [elb.DeregisterTargetsCommand, (i) => b.deregisterTargets(i)],
      [elb.DescribeTargetHealthCommand, (i) => b.describeTargetHealth(i)],
      [elb.ModifyListenerCommand, (i) => b.modifyListener(i)],
      [elb.DescribeRulesCommand, (i) => b.describeRules(i)],
      [elb.AddTagsCommand, (i) => b.addTags(i)],
      [elb.DescribeTagsCommand, (i) => b.describeTags(i)],
      [elb.ModifyRuleCommand, (i) => b.modifyRule(i)],
    ];
    for (const [api, mock, ops] of [
      ['ecs', this.ecsMock, ecsOps],
      ['elb', this.elbMock, elbOps],
    ] as const)
      for (const [Command, handler] of ops) {
        const op = Command.name.replace(/Command$/, '');
        // biome-ignore lint/suspicious/noExplicitAny: the mock's typing is per command; the fake is untyped inside.
        (mock as any)
          .on(Command)
          .callsFake((input: never) => this.rec.run(api, op, input, () => handler(input)));
      }
  }

  /** AwsClients over the mocked clients, with a short retry backoff on the given clock. */
  clients(clock: Clock): AwsClients {
    return withClients(this.ecsClient, this.elbClient, {
      clock,
      retry: { baseDelayMs: 100, maxDelayMs: 2000, maxAttempts: 10, deadlineMs: 600_000 },
      random: () => 0.5,
    });
  }

  get calls(): Call[] {
    return this.rec.calls;
  }

  inject(plan: FaultPlan | null): void {
    this.rec.plan = plan;
  }

  async close(): Promise<void> {
    this.ecsMock.restore();
    this.elbMock.restore();
    await this.ecs.close();
  }
}
