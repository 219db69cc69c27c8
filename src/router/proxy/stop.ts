import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { DrainResult } from '../router.js';
import type { Door } from './door.js';
import { releaseHeld } from './front.js';
import { retireListeners } from './handoff/retire.js';
import { closeListener } from './listener.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';

/** What a proxy process serves: its routes (with their preview listeners) and its doors. */
export interface Serving {
  routes: Array<{ table: ServiceTable; preview: Server | undefined }>;
  doors: Door[];
  plane: DataPlane & {
    waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult>;
  };
  log: Logger;
}

/** Cuts what is still open: held requests (answered with `why`), client and backend connections. */
function cutAll(s: Serving, why: string): void {
  for (const r of s.routes) releaseHeld(r.table, s.plane, why);
  for (const d of s.doors) d.cut();
  for (const r of s.routes) {
    r.preview?.closeAllConnections();
    for (const b of r.table.list) b.close();
  }
}

/**
 * Shutdown: stops listening, lets in-flight requests and WebSockets finish (bounded by `timeoutMs`),
 * then cuts what is left.
 */
export async function stopServing(s: Serving, timeoutMs: number): Promise<void> {
  for (const r of s.routes) releaseHeld(r.table, s.plane, 'baton: proxy is shutting down\n');
  const closing = [
    ...s.routes.map((r) => (r.preview ? closeListener(r.preview, timeoutMs) : undefined)),
    ...s.doors.map((d) => d.close(timeoutMs)),
  ];
  const all = (t: ServiceTable) => [...t.byId.keys()];
  const open = s.routes.reduce((n, r) => n + r.table.openOn(all(r.table)), 0);
  if (open > 0) {
    const left = await Promise.all(
      s.routes.map((r) => s.plane.waitDrained(r.table.service, all(r.table), timeoutMs)),
    );
    const still = left.reduce((n, d) => n + d.inFlight, 0);
    if (still > 0) s.log.warn({ open: still }, 'shutdown timeout: closing open connections');
  }
  cutAll(s, 'baton: proxy is shutting down\n');
  await Promise.all(closing);
}

/**
 * After a handoff: stops accepting (another proxy accepts on the same sockets), lets open requests, long
 * responses and WebSockets end by themselves for at most `graceMs` (`retireListeners`), then cuts the rest.
 */
export async function retireServing(s: Serving, listeners: Server[], graceMs: number): Promise<void> {
  const retiring = retireListeners(listeners, graceMs);
  // HTTP/2 can say what HTTP/1.1 cannot: GOAWAY sends the client's next streams to a new connection,
  // which the proxy that took over accepts; the streams open here finish.
  for (const d of s.doors) d.goAway();
  await retiring;
  cutAll(s, 'baton: the proxy was replaced\n');
}
