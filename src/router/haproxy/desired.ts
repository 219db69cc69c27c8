import { BackendState } from '../router.js';
import { nameOf } from './names.js';
import type { RouteRecord, ServerRecord } from './record.js';

/** HAProxy's administrative server states (`set server … state`). */
export type AdminState = 'ready' | 'drain' | 'maint';

export interface ServerTarget {
  server: ServerRecord;
  name: string;
  admin: AdminState;
  /** HAProxy weight, 0–256. */
  weight: number;
}

/** Largest weight HAProxy accepts. */
export const MAX_WEIGHT = 256;

/**
 * The admin state a server should have. Standby servers are in MAINT (no traffic, not even persistent
 * cookies; this driver has no preview listener). Unhealthy ones (the control plane's probes said so) and
 * every server in maintenance mode are in MAINT too; draining ones in DRAIN (out of load balancing, still
 * checked, open sessions continue).
 */
export function adminState(route: RouteRecord, s: ServerRecord): AdminState {
  if (route.mode.kind === 'maintenance') return 'maint';
  if (s.state === BackendState.Standby || !s.healthy) return 'maint';
  if (s.state === BackendState.Draining) return 'drain';
  return 'ready';
}

/**
 * HAProxy weights of a route's servers. With no split, Baton's weights (capped at 256). With a split,
 * a revision's percent is spread over its ready servers by their Baton weights, then every share is
 * scaled so the largest is 256 (the finest resolution HAProxy gives); a non-zero share never rounds to 0.
 * Servers of revisions the split does not list get 0.
 */
export function targets(route: RouteRecord): ServerTarget[] {
  const out = route.backends.map((s) => ({
    server: s,
    name: nameOf(s),
    admin: adminState(route, s),
    weight: Math.min(MAX_WEIGHT, Math.max(0, Math.round(s.weight))),
  }));
  const split = route.split;
  if (!split) return out;
  const percent = new Map(split.weights.map((w) => [w.revision, w.percent]));
  const ready = out.filter((t) => t.admin === 'ready');
  const revWeight = new Map<number, number>();
  for (const t of ready)
    revWeight.set(t.server.revision, (revWeight.get(t.server.revision) ?? 0) + t.server.weight);
  const share = new Map<ServerTarget, number>();
  for (const t of ready) {
    const total = revWeight.get(t.server.revision) ?? 0;
    const p = percent.get(t.server.revision) ?? 0;
    share.set(t, total > 0 ? (p * t.server.weight) / total : 0);
  }
  const max = Math.max(0, ...share.values());
  for (const t of ready) {
    const raw = share.get(t) ?? 0;
    t.weight = raw <= 0 || max <= 0 ? 0 : Math.max(1, Math.round((raw * MAX_WEIGHT) / max));
  }
  return out;
}

/**
 * The commands that bring a route's servers to their targets, in the order that keeps traffic flowing:
 * servers to be READY first (weight, then state), then the others (weight, then DRAIN or MAINT). Sent as
 * one batch on one connection, so the window in which both sets take traffic lasts only as long as
 * HAProxy takes to run the batch.
 */
export function applyCommands(backend: string, list: ServerTarget[]): string[] {
  const cmds: string[] = [];
  const ordered = [...list.filter((t) => t.admin === 'ready'), ...list.filter((t) => t.admin !== 'ready')];
  for (const t of ordered) {
    cmds.push(`set server ${backend}/${t.name} weight ${t.weight}`);
    cmds.push(`set server ${backend}/${t.name} state ${t.admin}`);
  }
  return cmds;
}
