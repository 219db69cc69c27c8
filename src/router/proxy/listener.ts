import { createServer, type Server } from 'node:http';
import { DriverError } from '../../core/errors.js';
import { forwardPreview } from './forward.js';
import { onRequest, onUpgrade } from './front.js';
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
  const server = preview
    ? createServer((req, res) => forwardPreview(table, plane, req, res))
    : createServer((req, res) => onRequest(table, plane, req, res));
  if (preview) server.on('upgrade', (req, socket, head) => tunnel(table, plane, req, socket, head, true));
  else server.on('upgrade', (req, socket, head) => onUpgrade(table, plane, req, socket, head));
  server.on('clientError', (_err, socket) => {
    if (socket.writable && !socket.destroyed)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
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
