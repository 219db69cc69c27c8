import { BackendState } from '../router.js';
import type { BackendRecord, RouteRecord } from './record.js';

/** OCI's largest backend weight. */
export const MAX_WEIGHT = 100;

/** One OCI backend as Baton wants it: `UpdateBackendDetails` plus where it lives. */
export interface DesiredBackend {
  owner: BackendRecord;
  backendSet: string;
  /** OCI's backend name, `ip:port`. */
  name: string;
  ipAddress: string;
  port: number;
  weight: number;
  drain: boolean;
  offline: boolean;
  backup: false;
}

/** Takes new connections: neither draining nor offline. */
export const serving = (d: Pick<DesiredBackend, 'drain' | 'offline'>): boolean => !d.drain && !d.offline;

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * Every OCI backend of a route, as Baton wants it. One per Baton backend × configured `{port,
 * backendSet}`. States: active → serving; draining → `drain` (no new connections, open ones continue);
 * standby, unhealthy (`setHealthy(false)`) and maintenance mode → `offline` (no traffic at all; this
 * driver has no preview listener). A split spreads each revision's percent over its serving backends by
 * their weights, scaled so the largest is 100 (OCI's maximum); a revision at 0 % or not in the split
 * drains.
 */
export function desiredBackends(r: RouteRecord): DesiredBackend[] {
  const targets = r.settings.backends ?? [{ backendSet: r.service }];
  const out: DesiredBackend[] = [];
  for (const b of r.backends) {
    const { host, port } = hostPort(b.address);
    const offline = r.mode.kind === 'maintenance' || b.state === BackendState.Standby || !b.healthy;
    const drain = !offline && b.state === BackendState.Draining;
    for (const t of targets) {
      const p = t.port ?? port;
      out.push({
        owner: b,
        backendSet: t.backendSet,
        name: `${host}:${p}`,
        ipAddress: host,
        port: p,
        weight: Math.min(MAX_WEIGHT, Math.max(1, Math.round(b.weight))),
        drain,
        offline,
        backup: false,
      });
    }
  }
  return r.split ? splitWeights(r, out) : out;
}

function splitWeights(r: RouteRecord, list: DesiredBackend[]): DesiredBackend[] {
  const percent = new Map(r.split!.weights.map((w) => [w.revision, w.percent]));
  const ready = list.filter(serving);
  const total = new Map<string, number>();
  const key = (d: DesiredBackend) => `${d.backendSet}|${d.owner.revision}`;
  for (const d of ready) total.set(key(d), (total.get(key(d)) ?? 0) + d.owner.weight);
  const share = new Map<DesiredBackend, number>();
  for (const d of ready) {
    const t = total.get(key(d)) ?? 0;
    share.set(d, t > 0 ? ((percent.get(d.owner.revision) ?? 0) * d.owner.weight) / t : 0);
  }
  const max = Math.max(0, ...share.values());
  for (const d of ready) {
    const s = share.get(d) ?? 0;
    if (s <= 0 || max <= 0) d.drain = true;
    else d.weight = Math.max(1, Math.round((s * MAX_WEIGHT) / max));
  }
  return list;
}
