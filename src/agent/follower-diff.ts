import type { Registration } from '../cluster/registry.js';
import type { Backend, BackendStatus } from '../router/router.js';

export interface BackendChanges {
  /** New registrations, and ones whose address or revision changed: added (or updated) as active. */
  add: Backend[];
  /** Backends with no registration any more that still take requests: drained, then removed. */
  drain: string[];
  /** Draining backends registered again (an instance that recovered): made active again by `add`. */
}

export const backendOf = (r: Registration): Backend => ({
  id: r.instance,
  address: `${r.address}:${r.port}`,
  revision: r.revision,
  weight: 1,
});

/**
 * What the router must change so it sends traffic to exactly the registered instances. Pure.
 * `routed` is the router's view; backends already draining are left to the drain under way.
 */
export function diffBackends(
  routed: Pick<BackendStatus, 'id' | 'address' | 'revision' | 'state'>[],
  registered: Registration[],
): BackendChanges {
  const byId = new Map(routed.map((b) => [b.id, b]));
  const wanted = new Set(registered.map((r) => r.instance));
  const add: Backend[] = [];
  for (const r of registered) {
    const b = byId.get(r.instance);
    const want = backendOf(r);
    if (b?.state !== 'active' || b.address !== want.address || b.revision !== want.revision) add.push(want);
  }
  // Fail static: a set with nothing registered at all is far more likely a registry that could not be
  // written for longer than the TTL (a NATS failover: every entry aged out at once) than a service with
  // no instance anywhere. Keep routing to what is known; a dead backend fails its connections and the
  // proxy retries elsewhere. Deregistrations that leave something registered apply as usual.
  if (registered.length === 0) return { add, drain: [] };
  const drain = routed.filter((b) => b.state === 'active' && !wanted.has(b.id)).map((b) => b.id);
  return { add, drain };
}
