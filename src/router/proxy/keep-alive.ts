import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Default idle timeout of client keep-alive connections on the proxy's listeners (`traffic.keepAliveTimeout`).
 * Node's server default is 5 s, shorter than many clients keep an idle socket; a client that sends on a
 * socket the server is closing at that instant sees ECONNRESET (the keep-alive close race). So: longer
 * than common clients assume (Go 90 s, Firefox 115 s, curl 118 s; nginx closes at 75 s), and announced.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

/**
 * Gives `server` its client keep-alive timeout. Node announces it on every keep-alive answer as
 * `Keep-Alive: timeout=N` (N = whole seconds) and closes an idle connection only later (Node 20 adds 1 s),
 * so clients that honour the hint (Node's agent with a `timeout`, undici) retire their socket first.
 * May be called again on a listening server (a route's new setting applies to the next idle period).
 */
export function setKeepAlive(server: Server, ms: number): void {
  server.keepAliveTimeout = ms;
}

/**
 * Closes an idle keep-alive connection only when it really is idle. Node destroys the socket when the
 * idle timer fires, but timers run before the event loop reads sockets: a request already in the
 * kernel's buffer, unread because the worker was busy, is then answered with a TCP reset. Here the
 * check waits for the loop's next read phase (`setImmediate`): if bytes came in, a request is starting
 * and Node has already cleared the idle timer; otherwise the socket is closed as Node would.
 */
export function closeOnlyWhenIdle(server: Server): void {
  // A listener on the server's 'timeout' replaces Node's own destroy for the idle keep-alive timer
  // (the only socket timer set: `server.timeout` is 0; headers and request limits have their own checks).
  server.on('timeout', (socket: Socket) => {
    const read = socket.bytesRead;
    setImmediate(() => {
      if (socket.destroyed || socket.bytesRead !== read) return;
      socket.destroy();
    });
  });
}
