import type { BackendRecord, RouteRecordBase } from '../external/record.js';
import { RouteBook } from '../external/route-book.js';

/** What Baton wants for one server it manages: the truth re-applied after a reload. */
export interface ServerRecord extends BackendRecord {
  /** The `server-template` slot carrying it (restored by HAProxy's server-state file); else a dynamic server. */
  slot?: string | undefined;
}

/** One service: its route config, HAProxy backend, and Baton's servers in insertion order. */
export interface RouteRecord extends RouteRecordBase<ServerRecord> {
  backend: string;
  /** `traffic.router.serverOptions` of the service, when it set one (else the router's default). */
  serverOptions?: string | undefined;
  /** `traffic.router.removeTimeout` in ms, when set. */
  removeTimeoutMs?: number | undefined;
  /** The backend's `server-template` slots found on every instance at `ensureRoute` (none: dynamic servers). */
  slots?: string[] | undefined;
  /** The slot given out last (the next server takes the one after it). */
  lastSlot?: string | undefined;
  /** HAProxy's `server-state-file` that Baton keeps current for this route's slots. */
  serverStateFile?: string | undefined;
}

/**
 * Baton's own record of the routes and servers it manages, in `haproxy-router.json` (written whole,
 * atomically, after every change) so a restarted control plane re-applies it. Files written before the
 * shared base named the servers `servers`.
 */
export function haproxyBook(file: string): RouteBook<RouteRecord> {
  return new RouteBook<RouteRecord>({
    driver: 'haproxy',
    file,
    revive: (r) => {
      const old = r as RouteRecord & { servers?: ServerRecord[] };
      const { servers, ...rest } = old;
      return { ...rest, backends: r.backends ?? servers ?? [] };
    },
  });
}
