import { targets } from './desired.js';
import type { Fleet } from './fleet.js';
import { serverAddress } from './names.js';
import type { RouteRecord } from './record.js';
import { adminOf, parseServersState } from './slots.js';

/** What `reconcile()` found and did on one HAProxy instance. */
export interface ReconcileReport {
  socket: string;
  pid: string | undefined;
  /** The worker's Pid changed since the last look: a reload (or a restart) happened. */
  reloaded: boolean;
  /** Baton servers that were missing or had another address, state or weight, put right, per service. */
  restored: Record<string, string[]>;
  /** Why this instance could not be reconciled (it is retried next time). */
  error?: string;
}

/**
 * The servers of a route that one instance does not carry as the record says: missing (a dynamic server
 * after a reload), or a slot with another address, admin state or weight (a reload without the
 * server-state file, a change that reached one instance only). Reads `show servers state` only.
 */
export async function drifted(fleet: Fleet, socket: string, r: RouteRecord): Promise<string[]> {
  const [text] = await fleet.run(socket, [{ text: `show servers state ${r.backend}` }], true);
  const live = new Map(parseServersState(text ?? '').map((s) => [s.name, s]));
  const out: string[] = [];
  for (const t of targets(r)) {
    const s = live.get(t.name);
    const want = await serverAddress(t.server.address);
    if (!s || s.addr !== want.ip || s.port !== want.port || adminOf(s) !== t.admin || s.uweight !== t.weight)
      out.push(t.server.id);
  }
  return out;
}
