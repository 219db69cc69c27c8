import type { Runtime } from '../runtime/runtime.js';
import type { Store } from '../store/store.js';
import { DESIRED_PREFIX, type Desired } from './desired.js';
import type { Emit } from './events.js';

/** What a purge needs of its agent. */
export interface PurgeScope {
  node: string;
  store: Store;
  runtime: Runtime;
  emit: Emit;
  /** Revisions a service's runner still uses; undefined while it has no runner yet. */
  inUse(service: string): Set<number> | undefined;
}

/**
 * Stops and removes this node's instances of services no longer desired, then lets the runtime purge
 * stray labelled resources (keeping what desired services' runners use, and everything of a desired
 * service not taken over yet).
 */
export async function purgeUnmanaged(p: PurgeScope): Promise<void> {
  const desired = new Set(
    (await p.store.list<Desired>(DESIRED_PREFIX)).map((e) => e.key.slice(DESIRED_PREFIX.length)),
  );
  const mine = new RegExp(`-${p.node}-s\\d+-r\\d+$`);
  for (const inst of await p.runtime.list()) {
    if (desired.has(inst.service) || !mine.test(inst.id)) continue;
    await p.runtime.stop(inst.id, 10_000);
    await p.runtime.remove(inst.id).catch(() => undefined);
    p.emit({ type: 'retired', service: inst.service, instance: inst.id, why: 'purge: service not desired' });
  }
  if (!p.runtime.purge) return;
  const removed = await p.runtime.purge((t) => {
    if (!desired.has(t.service)) return false;
    const used = p.inUse(t.service);
    return !used || used.has(t.revision);
  });
  for (const id of removed) p.emit({ type: 'retired', service: '-', instance: id, why: 'purge' });
}
