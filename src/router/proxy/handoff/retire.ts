import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';

/**
 * Stops accepting on listeners whose sockets another proxy now accepts on, and lets their connections
 * end by themselves: a request in flight finishes, its answer says `Connection: close` (so a keep-alive
 * client opens its next connection, to the new proxy), a WebSocket or a long response stays until it
 * ends. Resolves once every connection is gone, or after `graceMs` (the caller then cuts what is left).
 *
 * `http.Server.close()` is not used: it also closes idle keep-alive connections at once, and a client
 * that sent a request on one at that instant gets a reset (the keep-alive close race). The listening
 * socket is closed as a plain `net.Server`; an idle connection is left to its next request (answered
 * with `Connection: close`) or to its keep-alive timeout.
 */
export function retireListeners(servers: HttpServer[], graceMs: number): Promise<void> {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
            res.shouldKeepAlive = false;
          });
          const timer = setTimeout(resolve, graceMs);
          timer.unref();
          NetServer.prototype.close.call(s, () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  ).then(() => {});
}
