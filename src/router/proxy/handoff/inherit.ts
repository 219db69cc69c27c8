import { closeSync } from 'node:fs';
import type { ListenOptions } from 'node:net';
import { parseListen } from '../paths.js';
import type { Snapshot } from '../snapshot.js';

/**
 * Listening sockets a proxy got from the one it replaced (see `handoff.ts`): listen address → file
 * descriptor. A listener whose address is here listens on that descriptor (the very socket the old proxy
 * accepted on, so no connection is refused or lost in between) instead of binding a new one.
 *
 * One map per process: the primary gives its workers the current map, and every process forgets an
 * address as soon as its listener closes, since closing the last listener closes the descriptor and the
 * number may then be reused by an unrelated file.
 */
const inherited = new Map<string, number>();

/** Fills the map (a worker at init, the new primary from its environment). */
export function inherit(entries: Record<string, number>): void {
  for (const [listen, fd] of Object.entries(entries)) inherited.set(listen, fd);
}

/** The map, to hand to a worker. */
export function inheritedFds(): Record<string, number> {
  return Object.fromEntries(inherited);
}

/** The address's descriptor is no longer ours to use (its listener closed, or every worker died). */
export function forgetInherited(listen?: string): void {
  if (listen === undefined) inherited.clear();
  else inherited.delete(listen);
}

/**
 * What `server.listen()` gets for `listen` (host:port): the inherited descriptor when there is one,
 * else the address. Every listener of the proxy (doors plain and TLS, the HTTP listener, previews)
 * listens through this, as `server.listen(listenTarget(listen), LISTEN_BACKLOG, cb)` (Node reads a
 * backlog given inside the options only for an address, not for a descriptor). An HTTP/2 listener
 * (`http2.createSecureServer`) is a net.Server too and listens the same way.
 */
export function listenTarget(listen: string): ListenOptions | { fd: number } {
  const fd = inherited.get(listen);
  if (fd !== undefined) return { fd };
  const addr = parseListen(listen)!;
  return { port: addr.port, host: addr.host };
}

/** Environment variable carrying the map to the new primary (JSON `{listen: fd}`). */
export const INHERIT_ENV = 'BATON_PROXY_INHERIT';

/**
 * Inherited sockets no listener of the snapshot uses (its routes, previews and HTTP listener) are closed:
 * nothing would accept on them, yet they would keep their address bound.
 */
export function closeUnused(snapshot: Snapshot): void {
  const used = new Set<string>(snapshot.httpListen === undefined ? [] : [snapshot.httpListen]);
  for (const r of snapshot.routes) {
    used.add(r.listen);
    if (r.preview !== undefined) used.add(r.preview);
  }
  for (const [listen, fd] of inherited) {
    if (used.has(listen)) continue;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to release.
    }
    inherited.delete(listen);
  }
}
