import { createServer, type Server } from 'node:http';
import { DriverError } from '../../core/errors.js';
import { forwardPreview } from './forward.js';
import { onRequest, onUpgrade } from './front.js';
import type { ListenerCounters } from './histogram.js';
import { closeOnlyWhenIdle, setKeepAlive } from './keep-alive.js';
import { clientErrorStatus, edgeServerOptions } from './limits.js';
import { parseListen } from './paths.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import { tunnel } from './upgrade.js';

/**
 * Opens the HTTP listener of a service (or its preview listener). Rejects with a clear error when the
 * address is taken.
 */
export function openListener(
  table: ServiceTable,
  plane: DataPlane,
  listen: string,
  preview = false,
): Promise<Server> {
  const addr = parseListen(listen)!;
  // Edge limits (head timeout, head size, no overall request timeout): see limits.ts.
  const edge = edgeServerOptions(table.limits);
  const server = preview
    ? createServer(edge, (req, res) => forwardPreview(table, plane, req, res))
    : createServer(edge, (req, res) => onRequest(table, plane, req, res));
  // Header count is checked per request (431); node's own limit would drop the extra ones silently.
  server.maxHeadersCount = 0;
  countConnections(server, table.connections[preview ? 'preview' : 'main']);
  setKeepAlive(server, table.keepAliveTimeoutMs);
  closeOnlyWhenIdle(server);
  if (preview) server.on('upgrade', (req, socket, head) => tunnel(table, plane, req, socket, head, true));
  else server.on('upgrade', (req, socket, head) => onUpgrade(table, plane, req, socket, head));
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && !socket.destroyed)
      socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });
  const what = preview ? 'preview of service' : 'service';
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why =
        e.code === 'EADDRINUSE'
          ? `listen address ${listen} for ${what} ${table.service} is already in use by another process`
          : `cannot listen on ${listen} for ${what} ${table.service}: ${e.message}`;
      reject(new DriverError('proxy', why, e));
    });
    server.listen(addr.port, addr.host, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      resolve(server);
    });
  });
}

/** Counts accepted and open connections: per connection, never per request. */
function countConnections(server: Server, c: ListenerCounters): void {
  server.on('connection', (socket) => {
    c.accepted++;
    c.open++;
    socket.once('close', () => c.open--);
  });
}

/** The listeners of a route. */
export interface Listeners {
  /** Undefined when restoring from the snapshot could not listen; the next ensureRoute tries again. */
  server: Server | undefined;
  /** The preview listener, when the route has one (and it could listen). */
  preview: Server | undefined;
}

/**
 * Opens the listeners a route needs at `listen` (and `preview`), keeping current ones whose address is
 * unchanged. If one cannot listen, those opened here are closed again and the error is thrown (nothing
 * changes). `retire` closes the replaced ones once the caller has switched to `next`.
 */
export async function relisten(
  table: ServiceTable,
  plane: DataPlane,
  current: Listeners | undefined,
  listen: string,
  preview: string | undefined,
): Promise<{ next: Listeners; changed: boolean; retire: (graceMs: number) => void }> {
  const keepMain = current?.server !== undefined && table.listen === listen;
  const keepPreview = preview === undefined || (current?.preview !== undefined && table.preview === preview);
  const server = keepMain ? current!.server : await openListener(table, plane, listen);
  let previewServer: Server | undefined;
  try {
    if (preview !== undefined)
      previewServer = keepPreview ? current!.preview : await openListener(table, plane, preview, true);
  } catch (e) {
    if (!keepMain && server) void closeListener(server, 0);
    throw e;
  }
  const old = [current?.server, current?.preview].filter(
    (s): s is Server => s !== undefined && s !== server && s !== previewServer,
  );
  return {
    next: { server, preview: previewServer },
    changed: !keepMain || !keepPreview || old.length > 0,
    retire: (graceMs) => {
      for (const s of old) void closeListener(s, graceMs);
    },
  };
}

/**
 * Stops accepting connections; idle keep-alive connections close now, the rest when their request
 * ends, and whatever is still open after `graceMs` is cut.
 */
export function closeListener(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
