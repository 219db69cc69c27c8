import type { NatsConnection } from '@nats-io/transport-node';
import { Governor } from '../cluster/governor.js';
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
