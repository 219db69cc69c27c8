import type {
  Action,
  DescribeListenersCommandOutput,
  DescribeLoadBalancersCommandOutput,
  DescribeRulesCommandOutput,
  DescribeTagsCommandOutput,
  DescribeTargetGroupsCommandOutput,
  DescribeTargetHealthCommandOutput,
  ElasticLoadBalancingV2Client,
  Listener,
  TargetDescription,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsCaller } from '../../cloud/aws/call.js';
import { elbSdk } from '../../cloud/aws/sdk.js';
import { DriverError } from '../../core/errors.js';

const D = 'alb';

/** The ELBv2 calls the router makes, each through the one retry layer and translated. */
export class ElbApi {
  constructor(
    private readonly elb: ElasticLoadBalancingV2Client,
    private readonly aws: AwsCaller,
  ) {}

  async listener(arn: string): Promise<Listener> {
    const res = await this.aws.call<DescribeListenersCommandOutput>(
      this.elb,
      new (elbSdk().DescribeListenersCommand)({ ListenerArns: [arn] }),
      `describe listener ${arn}`,
    );
    const l = res.Listeners?.[0];
    if (!l) throw new DriverError(D, `listener ${arn} not found`);
    return l;
  }

  async rule(arn: string): Promise<void> {
    const res = await this.aws.call<DescribeRulesCommandOutput>(
      this.elb,
      new (elbSdk().DescribeRulesCommand)({ RuleArns: [arn] }),
      `describe rule ${arn}`,
    );
    if (!res.Rules?.length) throw new DriverError(D, `listener rule ${arn} not found`);
    if (res.Rules[0]?.IsDefault)
      throw new DriverError(
        D,
        `${arn} is the listener's default rule: give listenerArn alone for the default action`,
      );
  }

  async targetGroups(arns: string[]): Promise<TargetGroup[]> {
    const res = await this.aws.call<DescribeTargetGroupsCommandOutput>(
      this.elb,
      new (elbSdk().DescribeTargetGroupsCommand)({ TargetGroupArns: arns }),
      `describe target groups ${arns.join(', ')}`,
    );
    return res.TargetGroups ?? [];
  }

  async dnsName(loadBalancerArn: string): Promise<string> {
    const res = await this.aws.call<DescribeLoadBalancersCommandOutput>(
      this.elb,
      new (elbSdk().DescribeLoadBalancersCommand)({ LoadBalancerArns: [loadBalancerArn] }),
      `describe load balancer ${loadBalancerArn}`,
    );
    return res.LoadBalancers?.[0]?.DNSName ?? '';
  }

  /** Target health in one group (of these targets, or of every registered one). */
  async health(targetGroupArn: string, targets?: TargetDescription[]): Promise<TargetHealthDescription[]> {
    const res = await this.aws.call<DescribeTargetHealthCommandOutput>(
      this.elb,
      new (elbSdk().DescribeTargetHealthCommand)({
        TargetGroupArn: targetGroupArn,
        ...(targets ? { Targets: targets } : {}),
      }),
      `describe target health of ${targetGroupArn}`,
    );
    return res.TargetHealthDescriptions ?? [];
  }

  /** Tags of these resources (target groups), by ARN. */
  async tags(arns: string[]): Promise<Map<string, Record<string, string>>> {
    const res = await this.aws.call<DescribeTagsCommandOutput>(
      this.elb,
      new (elbSdk().DescribeTagsCommand)({ ResourceArns: arns }),
      `describe tags of ${arns.join(', ')}`,
    );
    return new Map(
      (res.TagDescriptions ?? []).map((d) => [
        d.ResourceArn ?? '',
        Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      ]),
    );
  }

  /** Adds or overwrites tags (idempotent). */
  async tag(arn: string, tags: Record<string, string>): Promise<void> {
    await this.aws.write(
      this.elb,
      new (elbSdk().AddTagsCommand)({
        ResourceArns: [arn],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
      `tag ${arn}`,
    );
  }

  /** Registering a registered target again is a no-op in ELBv2, so this is safe to retry. */
  /** Whether writes are recorded instead of sent (`baton plan`). */
  get dry(): boolean {
    return this.aws.dry;
  }

  async register(targetGroupArn: string, targets: TargetDescription[]): Promise<void> {
    if (targets.length === 0) return;
    await this.aws.write(
      this.elb,
      new (elbSdk().RegisterTargetsCommand)({ TargetGroupArn: targetGroupArn, Targets: targets }),
      `register ${targets.map((t) => `${t.Id}:${t.Port}`).join(', ')} in ${targetGroupArn}`,
      { awaits: 'DescribeTargetHealth until healthy before they take traffic' },
    );
  }

  /** Starts the target group's deregistration delay (ALB's draining). A repeat is a no-op. */
  async deregister(targetGroupArn: string, targets: TargetDescription[]): Promise<void> {
    if (targets.length === 0) return;
    await this.aws.write(
      this.elb,
      new (elbSdk().DeregisterTargetsCommand)({ TargetGroupArn: targetGroupArn, Targets: targets }),
      `deregister ${targets.map((t) => `${t.Id}:${t.Port}`).join(', ')} from ${targetGroupArn}`,
      { awaits: 'DescribeTargetHealth until no longer draining (the deregistration delay)' },
    );
  }

  /** The listener's default actions, or a rule's actions: replaced whole (the same request twice is harmless). */
  async setActions(
    where: { listenerArn: string; ruleArn?: string | undefined },
    actions: Action[],
  ): Promise<void> {
    if (where.ruleArn)
      await this.aws.write(
        this.elb,
        new (elbSdk().ModifyRuleCommand)({ RuleArn: where.ruleArn, Actions: actions }),
        `modify rule ${where.ruleArn}`,
      );
    else
      await this.aws.write(
        this.elb,
        new (elbSdk().ModifyListenerCommand)({ ListenerArn: where.listenerArn, DefaultActions: actions }),
        `modify listener ${where.listenerArn}`,
      );
  }
}
