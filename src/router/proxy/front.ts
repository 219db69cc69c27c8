import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteMode } from '../router.js';
import { MAINTENANCE_RETRY_AFTER_S } from '../validate.js';
import { forward, maintenanceReply, reply } from './forward.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import { rawReply, tunnel } from './upgrade.js';

/**
 * Soak and debugging aid, off unless the proxy runs with `BATON_PROXY_DEBUG_HEADER=1`: a request that
 * carries `X-Baton-Debug: worker` gets `X-Baton-Worker: <pid>` in its answer, so a client can tell which
 * proxy worker holds its connection. Off, nothing is added for anyone.
 */
const DEBUG_HEADER = process.env.BATON_PROXY_DEBUG_HEADER === '1';

/**
 * The production listener's door: the route's mode decides whether a new request is proxied, answered
 * with the maintenance page, or held. (The preview listener has no door: modes are for user traffic.)
 */
export function onRequest(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (DEBUG_HEADER && req.headers['x-baton-debug'] === 'worker') res.setHeader('X-Baton-Worker', process.pid);
  const mode = table.mode;
  if (mode.kind === 'serve') forward(table, plane, req, res);
  else if (mode.kind === 'maintenance') maintenanceReply(table, res);
  else table.held.hold({ req, res }, mode.maxMs);
}

/**
 * Whether a request of `table` may skip node's HTTP/2 compatibility objects (h2-stream.ts): one the route
 * forwards now to an HTTP/1.1 instance. Held and maintenance answers, h2c and the debug header keep them.
 */
export function forwardsLean(table: ServiceTable, headers: IncomingHttpHeaders): boolean {
  return (
    table.mode.kind === 'serve' &&
    table.upstream !== 'h2c' &&
    !(DEBUG_HEADER && headers['x-baton-debug'] === 'worker')
  );
}

export function onUpgrade(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const mode = table.mode;
  if (mode.kind === 'serve') tunnel(table, plane, req, socket, head);
  else if (mode.kind === 'maintenance') maintenanceRaw(table, socket);
  else table.held.hold({ req, socket, head }, mode.maxMs);
}

/**
 * After a mode change out of `hold`: held requests go through in arrival order (`serve`) or get the
 * maintenance answer. A string: the route or the proxy goes away, they get a 503 with that body.
 */
export function releaseHeld(table: ServiceTable, plane: DataPlane, next: RouteMode | string): void {
  if (typeof next !== 'string' && next.kind === 'hold') return;
  for (const h of table.held.take()) {
    if (typeof next === 'string') {
      if (h.res) reply(h.res, 503, 'no-route', next);
      else rawReply(h.socket!, '503 Service Unavailable', 'no-route', next);
    } else if (next.kind === 'maintenance') {
      if (h.res) maintenanceReply(table, h.res);
      else maintenanceRaw(table, h.socket!);
    } else if (h.res) forward(table, plane, h.req, h.res);
    else tunnel(table, plane, h.req, h.socket!, h.head!);
  }
}

function maintenanceRaw(table: ServiceTable, socket: Duplex): void {
  rawReply(
    socket,
    '503 Service Unavailable',
    'maintenance',
    table.maintenanceBody,
    `Retry-After: ${MAINTENANCE_RETRY_AFTER_S}\r\n`,
  );
}
