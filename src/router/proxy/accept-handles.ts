import cluster, { type Worker } from 'node:cluster';
import type { Server as NetServer } from 'node:net';
import { LISTEN_BACKLOG } from './limits.js';

/**
 * Descriptors of each listening socket per worker. libuv (1.45+, so Node 20) accepts ONE connection per
 * listening handle per turn of the event loop (libuv#3696). A worker busy with hundreds of open
 * connections turns in tens of milliseconds under load, so on one handle it accepts only a few dozen new
 * connections per second per listener, and a stream of new connections then queues in the kernel until
 * clients wait for seconds: the suite's soak saw new connections time out after 30 s, and `ss` showed
 * hundreds queued even on a quiet machine. HAProxy accepts up to `tune.maxaccept` per wake-up for the
 * same reason. Each extra descriptor is one more accept per turn; what it accepts is handed to the
 * listener's own server exactly as if that had accepted it.
 *
 * The cost: a new connection wakes every descriptor of every worker and all but one `accept()` find the
 * queue empty (a cheap syscall each). `BATON_PROXY_ACCEPT_HANDLES` sets the number (1 turns this off).
 */
export const ACCEPT_HANDLES = acceptHandlesFromEnv(process.env.BATON_PROXY_ACCEPT_HANDLES) ?? 1;
/** How long a worker waits for the primary's copies; without them it serves on its one handle. */
const ASK_TIMEOUT_MS = 5000;

/** The number `BATON_PROXY_ACCEPT_HANDLES` asks for (default 8), or undefined when it is not 1 to 64. */
export function acceptHandlesFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return 8;
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : undefined;
}

/** A libuv TCP handle as Node's net module drives it (internal, stable since Node 0.x). */
interface TcpHandle {
  listen(backlog: number): number;
  close(cb?: () => void): void;
  onconnection: ((status: number, client?: TcpHandle) => void) | null;
}

type Ask = { t: 'accept-handles'; id: number; n: number };
type Give = { t: 'accept-handle'; id: number };

let nextId = 0;

/**
 * Worker side: ACCEPT_HANDLES − 1 more descriptors of `server`'s listening socket, each accepting for
 * `server`. Closing the server's handle, by whichever path (close, retire, handoff), closes them with it:
 * a retired listener must stop accepting at once, or its connections would miss the proxy that took
 * over. Outside a cluster worker (a single-process proxy, an in-process proxy in tests) nothing is done.
 * Fewer handles is slower under bursts of new connections, never wrong. Resolves once they are in place
 * (or after ASK_TIMEOUT_MS); callers do not wait for it, as the server accepts on its own handle meanwhile.
 */
export async function acceptOnMoreHandles(server: NetServer): Promise<void> {
  const own = (server as unknown as { _handle?: TcpHandle | null })._handle;
  if (ACCEPT_HANDLES < 2 || !cluster.isWorker || !process.connected || !own?.onconnection) return;
  const extras: TcpHandle[] = [];
  let closed = false;
  const close = own.close;
  own.close = function (this: TcpHandle, ...args: [(() => void)?]) {
    closed = true;
    for (const e of extras.splice(0)) e.close();
    return close.apply(this, args);
  };
  const id = ++nextId;
  const want = ACCEPT_HANDLES - 1;
  let got = 0;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.removeListener('message', onMessage);
      resolve();
    };
    const onMessage = (msg: Give, handle: TcpHandle | undefined) => {
      if (msg?.t !== 'accept-handle' || msg.id !== id || !handle) return;
      got++;
      if (closed) handle.close();
      else {
        // The connection goes to the server's own accept path (its counters, its 'connection' handlers,
        // TLS and HTTP/2 included), which reads its server from `this`: the server's handle.
        handle.onconnection = (status, client) => {
          if (own.onconnection) own.onconnection.call(own, status, client);
          else client?.close();
        };
        // listen() on the socket again: it must repeat the accept queue's size (Node's 511 would shrink it).
        if (handle.listen(LISTEN_BACKLOG) === 0) extras.push(handle);
        else handle.close();
      }
      if (got === want) done();
    };
    const timer = setTimeout(done, ASK_TIMEOUT_MS);
    process.on('message', onMessage);
    process.send!({ t: 'accept-handles', id, n: want } satisfies Ask, own as never);
  });
}

/**
 * Primary side: answers a worker's request for more descriptors of the listening socket it sent (each
 * IPC message with a handle carries a new descriptor). Returns false for any other message.
 */
export function answerAcceptHandles(worker: Worker, msg: unknown, handle: unknown): boolean {
  const ask = msg as Ask;
  if (ask?.t !== 'accept-handles') return false;
  if (!handle) return true;
  const h = handle as TcpHandle;
  const n = Math.max(0, Math.min(ask.n, 63));
  if (n === 0 || !worker.isConnected()) {
    h.close();
    return true;
  }
  // The primary's own copy closes once every copy is on its way: it never accepts on it.
  let pending = n;
  const sent = () => {
    if (--pending === 0) h.close();
  };
  for (let i = 0; i < n; i++)
    worker.send({ t: 'accept-handle', id: ask.id } satisfies Give, handle as never, sent);
  return true;
}
