import type {
  Action,
  Listener,
  TargetGroup,
  TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsError } from './faults.js';

export const LB_ARN =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';
export const LISTENER_ARN =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2';
export const PREVIEW_LISTENER_ARN =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/0000000000preview';
export const TG_BLUE =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/73e2d6bc24d8a067';
export const TG_GREEN =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/2453ed029918f21f';
export const RULE_ARN =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee';
export const DNS_NAME = 'web-1234567890.us-east-1.elb.amazonaws.com';

export interface ElbOptions {
  /** DescribeTargetHealth calls seeing a target `initial` before it is `healthy` (default 1). */
  healthyAfter: number;
  /** DescribeTargetHealth calls seeing a deregistered target `draining` before it is gone (default 1). */
  drainAfter: number;
  /** Targets (`ip:port`) that fail the health check forever. */
  neverHealthy: (key: string) => boolean;
}

interface FakeTarget {
  id: string;
  port: number;
  state: 'initial' | 'healthy' | 'unhealthy' | 'draining';
  seen: number;
}

/**
 * ELBv2 as the alb router uses it: one ALB with a listener (and a preview listener) whose default
 * actions Baton replaces, two `ip` target groups whose targets go initial → healthy (or unhealthy) and
 * draining → gone as DescribeTargetHealth is called. Keeps every listener action it was given.
 */
export class FakeElb {
  readonly listeners = new Map<string, Listener>();
  readonly groups = new Map<string, TargetGroup & { targets: Map<string, FakeTarget> }>();
  readonly actionHistory: Action[][] = [];
  /** One path rule (`/api/*`) of the production listener. */
  readonly rules = new Map<
    string,
    { RuleArn: string; Priority: string; IsDefault: boolean; Actions: Action[] }
  >([[RULE_ARN, { RuleArn: RULE_ARN, Priority: '10', IsDefault: false, Actions: [] }]]);
  /** Requests in flight per target (`ip:port`), kept by the HTTP data path: draining waits for them. */
  readonly inFlight = new Map<string, number>();
  /** What DescribeLoadBalancers answers (the HTTP data path points it at 127.0.0.1). */
  dnsName = DNS_NAME;

  constructor(readonly opts: ElbOptions) {
    const forward = (arn: string): Action[] => [{ Type: 'forward', TargetGroupArn: arn }];
    this.listeners.set(LISTENER_ARN, {
      ListenerArn: LISTENER_ARN,
      LoadBalancerArn: LB_ARN,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: forward(TG_BLUE),
    });
    this.listeners.set(PREVIEW_LISTENER_ARN, {
      ListenerArn: PREVIEW_LISTENER_ARN,
      LoadBalancerArn: LB_ARN,
      Port: 8080,
      Protocol: 'HTTP',
      DefaultActions: forward(TG_GREEN),
    });
    for (const [arn, name] of [
      [TG_BLUE, 'web-blue'],
      [TG_GREEN, 'web-green'],
    ] as const)
      this.groups.set(arn, {
        TargetGroupArn: arn,
        TargetGroupName: name,
        TargetType: 'ip',
        Protocol: 'HTTP',
        Port: 80,
        LoadBalancerArns: [LB_ARN],
        targets: new Map(),
      });
  }

  describeListeners(input: { ListenerArns: string[] }) {
    const Listeners = input.ListenerArns.map((a) => this.listeners.get(a));
    if (Listeners.some((l) => !l)) throw awsError('ListenerNotFound', 400, 'One or more listeners not found');
    return { Listeners: structuredClone(Listeners) };
  }

  describeTargetGroups(input: { TargetGroupArns: string[] }) {
    const TargetGroups = input.TargetGroupArns.map((a) => this.groups.get(a));
    if (TargetGroups.some((g) => !g))
      throw awsError('TargetGroupNotFound', 400, 'One or more target groups not found');
    return {
      TargetGroups: TargetGroups.map((g) => {
        const { targets: _t, ...rest } = g!;
        return structuredClone(rest);
      }),
    };
  }

  describeLoadBalancers() {
    return { LoadBalancers: [{ LoadBalancerArn: LB_ARN, DNSName: this.dnsName, Type: 'application' }] };
  }

  private group(arn: string) {
    const g = this.groups.get(arn);
    if (!g) throw awsError('TargetGroupNotFound', 400, `Target groups '${arn}' not found`);
    return g;
  }

  registerTargets(input: { TargetGroupArn: string; Targets: Array<{ Id: string; Port: number }> }) {
    const g = this.group(input.TargetGroupArn);
    for (const t of input.Targets) {
      const key = `${t.Id}:${t.Port}`;
      const cur = g.targets.get(key);
      if (!cur || cur.state === 'draining')
        g.targets.set(key, { id: t.Id, port: t.Port, state: 'initial', seen: 0 });
    }
    return {};
  }

  deregisterTargets(input: { TargetGroupArn: string; Targets: Array<{ Id: string; Port: number }> }) {
    const g = this.group(input.TargetGroupArn);
    for (const t of input.Targets) {
      const cur = g.targets.get(`${t.Id}:${t.Port}`);
      if (cur && cur.state !== 'draining') Object.assign(cur, { state: 'draining', seen: 0 });
    }
    return {};
  }

  describeTargetHealth(input: { TargetGroupArn: string; Targets?: Array<{ Id: string; Port: number }> }) {
    const g = this.group(input.TargetGroupArn);
    const out: TargetHealthDescription[] = [];
    for (const [key, t] of [...g.targets]) {
      t.seen++;
      if (t.state === 'initial' && t.seen > this.opts.healthyAfter)
        t.state = this.opts.neverHealthy(key) ? 'unhealthy' : 'healthy';
      if (t.state === 'draining' && t.seen > this.opts.drainAfter && !this.inFlight.get(key))
        g.targets.delete(key);
    }
    const wanted = input.Targets?.map((t) => `${t.Id}:${t.Port}`);
    for (const key of wanted ?? [...g.targets.keys()]) {
      const t = g.targets.get(key);
      const [Id, Port] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
      if (!t)
        out.push({
          Target: { Id, Port },
          TargetHealth: {
            State: 'unused',
            Reason: 'Target.NotRegistered',
            Description: 'Target is not registered to the target group',
          },
        });
      else
        out.push({
          Target: { Id, Port },
          TargetHealth: {
            State: t.state,
            ...(t.state === 'unhealthy'
              ? {
                  Reason: 'Target.ResponseCodeMismatch',
                  Description: 'Health checks failed with these codes: [500]',
                }
              : {}),
            ...(t.state === 'initial'
              ? { Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' }
              : {}),
            ...(t.state === 'draining'
              ? {
                  Reason: 'Target.DeregistrationInProgress',
                  Description: 'Target deregistration is in progress',
                }
              : {}),
          },
        });
    }
    return { TargetHealthDescriptions: out };
  }

  modifyListener(input: { ListenerArn: string; DefaultActions: Action[] }) {
    const l = this.listeners.get(input.ListenerArn);
    if (!l) throw awsError('ListenerNotFound', 400, 'One or more listeners not found');
    l.DefaultActions = structuredClone(input.DefaultActions);
    if (input.ListenerArn === LISTENER_ARN) this.actionHistory.push(l.DefaultActions);
    return { Listeners: [structuredClone(l)] };
  }

  readonly tagsOf = new Map<string, Map<string, string>>();

  addTags(input: { ResourceArns: string[]; Tags: Array<{ Key: string; Value?: string }> }) {
    for (const arn of input.ResourceArns) {
      const m = this.tagsOf.get(arn) ?? new Map();
      for (const t of input.Tags) m.set(t.Key, t.Value ?? '');
      this.tagsOf.set(arn, m);
    }
    return {};
  }

  describeTags(input: { ResourceArns: string[] }) {
    return {
      TagDescriptions: input.ResourceArns.map((ResourceArn) => ({
        ResourceArn,
        Tags: [...(this.tagsOf.get(ResourceArn) ?? [])].map(([Key, Value]) => ({ Key, Value })),
      })),
    };
  }

  describeRules(input: { RuleArns: string[] }) {
    const Rules = input.RuleArns.map((a) => this.rules.get(a));
    if (Rules.some((r) => !r)) throw awsError('RuleNotFound', 400, 'One or more rules not found');
    return { Rules: structuredClone(Rules) };
  }

  modifyRule(input: { RuleArn: string; Actions: Action[] }) {
    const r = this.rules.get(input.RuleArn);
    if (!r) throw awsError('RuleNotFound', 400, 'One or more rules not found');
    r.Actions = structuredClone(input.Actions);
    return { Rules: [structuredClone(r)] };
  }

  /** Target group → weight in the production listener's forward action (0 when not forwarding). */
  weights(): Record<string, number> {
    return this.weightsOf(LISTENER_ARN);
  }

  /** `ip:port` of the healthy targets of a group. */
  healthy(arn: string): string[] {
    return [...this.group(arn).targets].filter(([, t]) => t.state === 'healthy').map(([k]) => k);
  }

  weightsOf(listener: string): Record<string, number> {
    const a = this.listeners.get(listener)?.DefaultActions?.[0];
    if (a?.Type !== 'forward') return {};
    if (a.TargetGroupArn) return { [a.TargetGroupArn]: 1 };
    return Object.fromEntries(
      (a.ForwardConfig?.TargetGroups ?? []).map((t) => [t.TargetGroupArn!, t.Weight ?? 1]),
    );
  }

  /** The targets that take production traffic now: healthy ones in target groups with weight > 0. */
  serving(): string[] {
    const out: string[] = [];
    for (const [arn, w] of Object.entries(this.weights()))
      if (w > 0) for (const [key, t] of this.group(arn).targets) if (t.state === 'healthy') out.push(key);
    return out.sort();
  }

  targets(arn: string): Record<string, string> {
    return Object.fromEntries([...this.group(arn).targets].map(([k, t]) => [k, t.state]));
  }
}
