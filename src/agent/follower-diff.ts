import type { Registration } from '../cluster/registry.js';
import type { Backend, BackendStatus } from '../router/router.js';

type Routed = Pick<BackendStatus, 'id' | 'address' | 'revision' | 'state'>;

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

/** The registrations that are not active backends as registered (absent, draining, moved): to add. Pure. */
export function toActivate(routed: Routed[], registered: Registration[]): Backend[] {
  const byId = new Map(routed.map((b) => [b.id, b]));
  const add: Backend[] = [];
  for (const r of registered) {
    const b = byId.get(r.instance);
    const want = backendOf(r);
    if (b?.state !== 'active' || b.address !== want.address || b.revision !== want.revision) add.push(want);
  }
  return add;
}

/**
 * What the router must change so it sends traffic to exactly the registered instances. Pure.
 * `routed` is the router's view; backends already draining are left to the drain under way.
 */
export function diffBackends(routed: Routed[], registered: Registration[]): BackendChanges {
  const wanted = new Set(registered.map((r) => r.instance));
  const add = toActivate(routed, registered);
  // Fail static: a set with nothing registered at all is far more likely a registry that could not be
  // written for longer than the TTL (a NATS failover: every entry aged out at once) than a service with
  // no instance anywhere. Keep routing to what is known; a dead backend fails its connections and the
  // proxy retries elsewhere. Deregistrations that leave something registered apply as usual.
  if (registered.length === 0) return { add, drain: [] };
  const drain = routed.filter((b) => b.state === 'active' && !wanted.has(b.id)).map((b) => b.id);
  return { add, drain };
}

/**
 * Backends a follower added from a drain request (an update's replacement) before its registry watch
 * listed them, by id, with the time until which they are protected. A watch that is behind delivers sets
 * without them; draining them for that would leave the router without the instances that replace the
 * ones being stopped. Once a set lists one, the watch has caught up and its pin goes; a pin that outlives
 * its time (the registration never reached the watch: the instance was gone again) is dropped, and the
 * next set decides as for any backend.
 */
export class Pins {
  private readonly until = new Map<string, number>();

  pin(id: string, until: number): void {
    this.until.set(id, Math.max(until, this.until.get(id) ?? 0));
  }

  /** Forgets pins the set lists (caught up) and expired ones. */
  seen(set: Registration[], now: number): void {
    for (const r of set) this.until.delete(r.instance);
    for (const [id, t] of this.until) if (t <= now) this.until.delete(id);
  }

  has(id: string, now: number): boolean {
    return (this.until.get(id) ?? 0) > now;
  }

  /** `drain` without the pinned ids. */
  filter(drain: string[], now: number): string[] {
    return drain.filter((id) => !this.has(id, now));
  }
}

/**
 * Backends a follower drained because a drain request named them (their agent deregistered them first),
 * by id, with when. A watch that is behind still lists them; making them active again for that would send
 * requests to an instance about to be stopped. A burial ends when the watch has caught up: a set that
 * lacks the id (a later listing is a new registration), or any set of a watch started after the burial
 * (it read the registry after the deregistration, so a listing is a new registration); or after `maxAgeMs`.
 */
export class Burials {
  private readonly at = new Map<string, number>();

  bury(id: string, now: number): void {
    this.at.set(id, now);
  }

  /** A set delivered by a watch started at `watchStartedAt`. */
  seen(set: Registration[], watchStartedAt: number, now: number, maxAgeMs: number): void {
    const listed = new Set(set.map((r) => r.instance));
    for (const [id, t] of this.at)
      if (!listed.has(id) || watchStartedAt > t || now - t >= maxAgeMs) this.at.delete(id);
  }

  has(id: string): boolean {
    return this.at.has(id);
  }

  /** `add` without the buried backends. */
  filter(add: Backend[]): Backend[] {
    return add.filter((b) => !this.at.has(b.id));
  }
}
