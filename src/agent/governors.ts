import type { NatsConnection } from '@nats-io/transport-node';
import { Governor, type GovernorLease } from '../cluster/governor.js';
import type { GovernorSpec } from '../spec/cluster.js';

/**
 * The governor a spec names: opened if it exists (it keeps its own capacity: `baton governor set` wins
 * over the spec), created with the spec's capacity and expiry if not.
 */
export async function ensureGovernor(
  nc: NatsConnection,
  spec: GovernorSpec,
  replicas: number,
): Promise<Governor> {
  const g = await Governor.open(nc, spec.name);
  try {
    await g.config();
    return g;
  } catch {
    return Governor.add(nc, spec.name, { capacity: spec.capacity, expiryMs: spec.expiry, replicas });
  }
}

/** Governors by name, opened once per agent. */
export class GovernorCache {
  private readonly open = new Map<string, Promise<Governor>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly replicas: number,
  ) {}

  get(spec: GovernorSpec): Promise<Governor> {
    let g = this.open.get(spec.name);
    if (!g) {
      g = ensureGovernor(this.nc, spec, this.replicas);
      // A failed open is tried again next time.
      g.catch(() => this.open.delete(spec.name));
      this.open.set(spec.name, g);
    }
    return g;
  }
}

/** 1 for a single server, 3 when the server says it is part of a cluster. */
export function replicasFor(nc: NatsConnection): number {
  return nc.info?.cluster ? 3 : 1;
}

/**
 * Calls `onOverrun` once if `lease` is still in use when the governor's expiry (read now: `governor set`
 * may have changed it) has passed since it was taken. The server has then dropped the lease, so another
 * holder may have taken the slot and more than `capacity` operations run at once: the expiry must exceed
 * the slowest operation. Returns what stops the watch (call it on release).
 */
export async function watchLeaseExpiry(
  g: Pick<Governor, 'config'>,
  lease: Pick<GovernorLease, 'since'>,
  onOverrun: (expiryMs: number) => void,
): Promise<() => void> {
  const expiryMs = await g
    .config()
    .then((c) => c.expiryMs)
    .catch(() => undefined);
  if (expiryMs === undefined) return () => undefined;
  const t = setTimeout(() => onOverrun(expiryMs), Math.max(0, lease.since.getTime() + expiryMs - Date.now()));
  t.unref();
  return () => clearTimeout(t);
}
