import type { Action, TargetDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DriverError } from '../../core/errors.js';
import { BackendState } from '../router.js';
import { defaultMaintenanceBody } from '../validate.js';
import type { BackendRecord, RouteRecord, Slot } from './record.js';

/** ALB's largest target group weight in a forward action. */
export const MAX_WEIGHT = 999;
/** ALB's largest fixed-response body. */
const MAX_BODY = 1024;

export function target(address: string): Required<Pick<TargetDescription, 'Id' | 'Port'>> {
  const i = address.lastIndexOf(':');
  return { Id: address.slice(0, i).replace(/^\[|\]$/g, ''), Port: Number(address.slice(i + 1)) };
}

export const targetKey = (t: Pick<TargetDescription, 'Id' | 'Port'>): string => `${t.Id}:${t.Port}`;

/**
 * Gives every revision that has backends a target group: the one it has, else a free one (none of its
 * revision's backends left). A third revision while two are in use is refused: an ALB route carries at
 * most two revisions at once (Baton's strategies never need more). Pure: returns the new slots.
 */
export function assignSlots(r: RouteRecord, backends: BackendRecord[] = r.backends): [Slot, Slot] {
  const slots = r.slots.map((s) => ({ ...s })) as [Slot, Slot];
  const used = new Set(backends.map((b) => b.revision));
  for (const s of slots) if (s.revision !== null && !used.has(s.revision)) s.revision = null;
  for (const rev of [...used].sort((a, b) => a - b)) {
    if (slots.some((s) => s.revision === rev)) continue;
    const free = slots.find((s) => s.revision === null);
    if (!free)
      throw new DriverError(
        'alb',
        `service ${r.service}: both target groups are in use (revisions ${slots.map((s) => s.revision).join(' and ')}); remove one revision's backends before adding revision ${rev}`,
      );
    free.revision = rev;
  }
  return slots;
}

/** Registered in its target group: active or standby (health-checked, reachable by the preview), healthy. */
export const registered = (b: BackendRecord): boolean => b.state !== BackendState.Draining && b.healthy;
/** Takes production traffic. */
const serving = (b: BackendRecord): boolean => b.state === BackendState.Active && b.healthy;

/** The targets each target group should have: `ip:port` → backend. */
export function desiredTargets(r: RouteRecord): Map<string, Map<string, BackendRecord>> {
  const out = new Map<string, Map<string, BackendRecord>>();
  for (const s of r.slots) {
    const m = new Map<string, BackendRecord>();
    for (const b of r.backends)
      if (b.revision === s.revision && registered(b)) m.set(targetKey(target(b.address)), b);
    out.set(s.targetGroupArn, m);
  }
  return out;
}

/**
 * The weight of each target group. With a split: its revision's percent (0 when the revision has no
 * serving backend, so the other takes everything). Without: the summed weights of its serving backends,
 * so every active backend gets its share as with the embedded proxy. Scaled to ALB's 0–999. When no
 * group has weight, the first gets 1: ALB needs one, and an empty group answers 503.
 */
export function weights(r: RouteRecord): number[] {
  const raw = r.slots.map((s) => {
    const live = r.backends.filter((b) => b.revision === s.revision && serving(b));
    if (live.length === 0) return 0;
    if (r.split) return r.split.weights.find((w) => w.revision === s.revision)?.percent ?? 0;
    return live.reduce((sum, b) => sum + b.weight, 0);
  });
  const max = Math.max(...raw);
  if (max <= 0) return raw.map((_, i) => (i === 0 ? 1 : 0));
  const scale = max > MAX_WEIGHT ? MAX_WEIGHT / max : 1;
  return raw.map((w) => (w > 0 ? Math.max(1, Math.round(w * scale)) : 0));
}

const fixed = (body: string): Action => ({
  Type: 'fixed-response',
  FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: body.slice(0, MAX_BODY) },
});

/**
 * The production action: a weighted forward over both target groups (ALB target group stickiness when
 * the split is sticky), or in maintenance a fixed 503 with the page's text.
 */
export function listenerActions(r: RouteRecord): Action[] {
  if (r.mode.kind === 'maintenance') return [fixed(r.mode.body ?? defaultMaintenanceBody(r.service))];
  const w = weights(r);
  const sticky = r.split?.sticky === true;
  return [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: r.slots.map((s, i) => ({ TargetGroupArn: s.targetGroupArn, Weight: w[i] })),
        TargetGroupStickinessConfig: sticky
          ? {
              Enabled: true,
              DurationSeconds: Math.max(1, Math.min(604_800, Math.round(r.settings.stickiness / 1000))),
            }
          : { Enabled: false },
      },
    },
  ];
}

/** The preview listener's action: forward to the preview revision's target group, else a 503. */
export function previewActions(r: RouteRecord): Action[] {
  const slot = r.slots.find((s) => s.revision !== null && s.revision === r.previewRevision);
  if (!slot) return [fixed(`${r.service}: no preview revision\n`)];
  return [
    {
      Type: 'forward',
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: slot.targetGroupArn, Weight: 1 }] },
    },
  ];
}
