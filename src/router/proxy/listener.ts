import { createServer, type Server } from 'node:http';
import { DriverError } from '../../core/errors.js';
import { acceptOnMoreHandles } from './accept-handles.js';
import { forwardPreview } from './forward.js';
import { onRequest, onUpgrade } from './front.js';
import { listenTarget } from './handoff/inherit.js';
import type { ListenerCounters } from './histogram.js';
import { closeOnlyWhenIdle, setKeepAlive } from './keep-alive.js';
import { clientErrorStatus, edgeServerOptions, LISTEN_BACKLOG } from './limits.js';
import type { DataPlane } from './plane.js';
import type { ServiceTable } from './service.js';
import { tunnel } from './upgrade.js';

/**
 * Opens the preview listener of a service (`preview`), or a listener of its own. Rejects with a clear
 * error when the address is taken. Listeners shared by services by host and path: `door.ts`.
 */
export function openListener(
  table: ServiceTable,
  plane: DataPlane,
  listen: string,
  preview = false,
): Promise<Server> {
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
    server.listen(listenTarget(listen), LISTEN_BACKLOG, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      // Not awaited, as in door.ts: the server accepts already and its route is attached on return.
      void acceptOnMoreHandles(server);
      resolve(server);
    });
  });
}

/** Counts accepted and open connections: per connection, never per request. */
export function countConnections(server: Server, c: ListenerCounters): void {
  server.on('connection', (socket) => {
    c.accepted++;
    c.open++;
    socket.once('close', () => c.open--);
  });
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
