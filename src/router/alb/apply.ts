import type { TargetDescription, TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Clock } from '../../cloud/clock.js';
import { pollUntil } from '../../cloud/poll.js';
import { DriverError } from '../../core/errors.js';
import { BackendState } from '../router.js';
import {
  assignSlots,
  desiredTargets,
  listenerActions,
  previewActions,
  target,
  targetKey,
} from './desired.js';
import type { ElbApi } from './elb.js';
import type { RouteRecord } from './record.js';

/**
 * Tags on the two target groups saying which service and revision each carries, written before targets
 * are registered: a restarted control plane (a new router, an empty record) puts a revision's backends
 * back into the group that already carries it, so nothing moves.
 */
export const TG_TAG = { service: 'baton:service', revision: 'baton:revision' } as const;

/**
 * Brings the ALB to the record as changed by `change` (computed on a copy, committed only when every
 * call succeeded, so a failure changes nothing in Baton's view): tag the groups, register new targets,
 * wait until ALB says healthy for every target about to serve, set the actions' weights, then
 * deregister the rest. Unchanged actions are not sent again.
 */
export async function applyRoute(
  api: ElbApi,
  clock: Clock,
  r: RouteRecord,
  change: (next: RouteRecord) => void,
  /** Called with the target record before the first call to AWS (to keep the intent on disk). */
  onIntent: (next: RouteRecord) => void = () => undefined,
): Promise<void> {
  const next = structuredClone(r);
  change(next);
  next.slots = assignSlots(next);
  onIntent(next);
  const before = desiredTargets(r);
  const after = desiredTargets(next);
  for (const [i, s] of next.slots.entries())
    if (s.revision !== null && s.revision !== r.slots[i]?.revision)
      await api.tag(s.targetGroupArn, {
        [TG_TAG.service]: next.service,
        [TG_TAG.revision]: String(s.revision),
      });
  // What each group has registered now (not draining), as ALB says.
  const groups = [...new Set([...r.slots, ...next.slots].map((x) => x.targetGroupArn))];
  const present = new Map<string, Set<string>>();
  for (const g of groups) {
    const now = await api.health(g);
    const keys = new Set(
      now.filter((h) => h.TargetHealth?.State !== 'draining').map((h) => targetKey(h.Target!)),
    );
    // A dry run's earlier registrations exist only in its record.
    if (api.dry) for (const k of before.get(g)?.keys() ?? []) keys.add(k);
    present.set(g, keys);
  }
  // Register first: a target moving from draining back to active is registered again.
  for (const s of next.slots) {
    const has = present.get(s.targetGroupArn)!;
    const missing = [...(after.get(s.targetGroupArn)?.keys() ?? [])].filter((k) => !has.has(k));
    await api.register(s.targetGroupArn, missing.map(target));
  }
  // A dry run records the wait with the registration (the targets exist nowhere).
  if (!api.dry) await waitHealthy(api, clock, next);
  const actions = JSON.stringify(listenerActions(next));
  if (actions !== r.applied.listener) {
    await api.setActions(next.settings, JSON.parse(actions));
    next.applied.listener = actions;
  }
  if (next.settings.previewListenerArn) {
    const preview = JSON.stringify(previewActions(next));
    if (preview !== r.applied.preview) {
      await api.setActions({ listenerArn: next.settings.previewListenerArn }, JSON.parse(preview));
      next.applied.preview = preview;
    }
  }
  // Deregister what Baton registered and no longer wants (never targets it does not know). What ALB has
  // registered, not what the record wanted before: a control plane that died between a change's record
  // (its intent) and its deregistration left targets the record already calls draining. A dry run goes
  // by its record (it deregistered nothing for real).
  const known = new Set(r.backends.map((b) => targetKey(target(b.address))));
  for (const g of groups) {
    const registered = api.dry ? [...(before.get(g)?.keys() ?? [])] : [...present.get(g)!];
    const gone = registered.filter((k) => !after.get(g)?.has(k) && known.has(k));
    await api.deregister(g, gone.map(target));
  }
  Object.assign(r, next);
}

const describe = (h: TargetHealthDescription): string => {
  const t = h.TargetHealth;
  return `${targetKey(h.Target!)} ${t?.State} (${t?.Reason ?? ''}${t?.Description ? `: ${t.Description}` : ''})`;
};

/** Every target that will take production traffic must be `healthy` in ALB's own check first. */
async function waitHealthy(api: ElbApi, clock: Clock, next: RouteRecord): Promise<void> {
  const { pollInterval, healthTimeout } = next.settings;
  for (const s of next.slots) {
    const serving = next.backends.filter(
      (b) => b.revision === s.revision && b.state === BackendState.Active && b.healthy,
    );
    if (serving.length === 0) continue;
    const targets: TargetDescription[] = serving.map((b) => target(b.address));
    const healthy = (hs: TargetHealthDescription[]) =>
      targets.every((t) =>
        hs.some((h) => targetKey(h.Target!) === targetKey(t) && h.TargetHealth?.State === 'healthy'),
      );
    await pollUntil(() => api.health(s.targetGroupArn, targets), healthy, {
      clock,
      intervalMs: pollInterval,
      timeoutMs: healthTimeout,
      onTimeout: (hs) =>
        new DriverError(
          'alb',
          `targets of ${next.service} revision ${s.revision} in ${s.targetGroupArn} not healthy after ${healthTimeout} ms: ${hs
            .filter((h) => h.TargetHealth?.State !== 'healthy')
            .map(describe)
            .join(', ')}`,
        ),
    });
  }
}

/**
 * ALB reports no connection count per target. What it does report: a deregistered target is `draining`
 * until its connections closed or the target group's deregistration delay passed, then it is gone. Polls
 * DescribeTargetHealth until none of these targets is `draining`, or `timeoutMs` passes; returns how many
 * targets are still draining (0: drained).
 */
export async function waitTargetsGone(
  api: ElbApi,
  clock: Clock,
  r: RouteRecord,
  addresses: string[],
  timeoutMs: number,
): Promise<number> {
  const keys = new Set(addresses.map((a) => targetKey(target(a))));
  const targets = [...keys].map((k) => target(k));
  const draining = async () => {
    let n = 0;
    for (const s of r.slots)
      for (const h of await api.health(s.targetGroupArn, targets))
        if (h.TargetHealth?.State === 'draining' && keys.has(targetKey(h.Target!))) n++;
    return n;
  };
  let last = 0;
  try {
    await pollUntil(draining, (n) => n === 0, {
      clock,
      intervalMs: r.settings.pollInterval,
      timeoutMs,
      onTimeout: (n) => {
        last = n;
        return new Error('drain timeout');
      },
    });
    return 0;
  } catch (err) {
    if (last === 0) throw err;
    return last;
  }
}
