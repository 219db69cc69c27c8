import { DriverError } from '../../core/errors.js';
import { TG_TAG } from './apply.js';
import type { ElbApi } from './elb.js';
import type { Slot } from './record.js';
import type { AlbRouteSettings } from './settings.js';

/**
 * Checks once what the route relies on and the user owns — the listener (and rule, and preview listener)
 * exist, both target groups exist with target type `ip` — and returns where the post-deploy check goes:
 * `http(s)://<ALB DNS name>:<listener port>`.
 */
export async function inspectRoute(api: ElbApi, s: AlbRouteSettings): Promise<string> {
  const listener = await api.listener(s.listenerArn);
  if (s.ruleArn) await api.rule(s.ruleArn);
  if (s.previewListenerArn) await api.listener(s.previewListenerArn);
  const groups = await api.targetGroups([...s.targetGroups]);
  for (const arn of s.targetGroups) {
    const g = groups.find((x) => x.TargetGroupArn === arn);
    if (!g) throw new DriverError('alb', `target group ${arn} not found`);
    if (g.TargetType !== 'ip')
      throw new DriverError(
        'alb',
        `target group ${g.TargetGroupName ?? arn} has target type ${g.TargetType}; Baton registers task IPs, so it must be "ip"`,
      );
  }
  const dns = listener.LoadBalancerArn ? await api.dnsName(listener.LoadBalancerArn) : '';
  const scheme = listener.Protocol === 'HTTPS' ? 'https' : 'http';
  return `${scheme}://${dns}:${listener.Port ?? 80}`;
}

/** The two slots as the target groups' tags say (a revision this service left there, else free). */
export async function slotsFromTags(
  api: ElbApi,
  service: string,
  s: AlbRouteSettings,
): Promise<[Slot, Slot]> {
  const tags = await api.tags([...s.targetGroups]);
  const carried = (arn: string): number | null => {
    const t = tags.get(arn);
    const v = t?.[TG_TAG.revision];
    if (t?.[TG_TAG.service] !== service || !v || !/^\d+$/.test(v)) return null;
    return Number(v);
  };
  const [blue, green] = s.targetGroups;
  return [
    { targetGroupArn: blue, revision: carried(blue) },
    { targetGroupArn: green, revision: carried(green) },
  ];
}
