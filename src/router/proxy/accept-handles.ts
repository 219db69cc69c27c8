import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { LISTEN_BACKLOG } from './limits.js';

/**
 * Listening handles per address in each worker. libuv (1.45+, so Node 20) accepts ONE connection per
 * listening handle per turn of the event loop (libuv#3696): a worker busy with hundreds of open
 * connections, whose turns take tens of milliseconds, accepts new connections only that fast, and under
 * a stream of new connections the kernel's accept queue grows until clients wait for seconds (the soak
 * of issue 12 saw 30 s: `ss` showed thousands queued on the listeners with the most new connections,
 * `strace` one accept4() per listener per epoll turn). HAProxy accepts up to `tune.maxaccept` per
 * wake-up for the same reason. Each extra descriptor of the listening socket in a worker is one more
 * accept per turn; the connections it accepts go to the door's one server.
 *
 * The extra descriptors come from the primary: the worker sends it its listening handle and the primary
 * sends it back N times (each message with a handle carries a new descriptor of the same socket). Cluster
 * cannot give them (a second listen() on an address in one worker asks the primary to bind it again).
 */
export const ACCEPT_HANDLES = 4;
const ASK_TIMEOUT_MS = 5000;

type Ask = { t: 'accept-handles'; id: number; n: number };
type Give = { t: 'accept-handle'; id: number };

let nextId = 0;

/**
 * Worker side: ACCEPT_HANDLES − 1 more handles on `server`'s listening socket, each feeding `server`.
 * Outside a cluster worker (the primary, an in-process proxy in tests) there are none. Fewer handles
 * is slower under bursts of new connections, never wrong: whatever does not arrive in time is done without.
 */
export async function openAcceptHandles(server: NetServer): Promise<NetServer[]> {
  const own = (server as unknown as { _handle?: object | null })._handle;
  if (!cluster.isWorker || !process.send || !process.connected || !own) return [];
  const id = ++nextId;
  const want = ACCEPT_HANDLES - 1;
  const extras: NetServer[] = [];
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.removeListener('message', onMessage);
      resolve();
    };
    const onMessage = (msg: Give, handle: unknown) => {
      if (msg?.t !== 'accept-handle' || msg.id !== id || !handle) return;
      const extra = createServer({ noDelay: true }, (socket: Socket) => {
        // Node's http server reaches its server through `socket.server` (its 'timeout' event, where
        // closeOnlyWhenIdle decides); `_server` stays the handle that counts the socket until it closes.
        (socket as Socket & { server: NetServer }).server = server;
        server.emit('connection', socket);
      });
      extra.on('error', () => {});
      // A raw handle: Node listens on it here, without asking the cluster primary. listen() runs on
      // the socket again, so it must repeat the accept queue's size (Node's default would shrink it).
      extra.listen(handle as never, LISTEN_BACKLOG);
      extras.push(extra);
      if (extras.length === want) done();
    };
    const timer = setTimeout(done, ASK_TIMEOUT_MS);
    process.on('message', onMessage);
    process.send!({ t: 'accept-handles', id, n: want } satisfies Ask, own as never);
  });
  if (!server.listening) {
    // Closed while they came: they go too.
    for (const e of extras) e.close();
    return [];
  }
  return extras;
}

/**
 * Primary side: answers a worker's request for more descriptors of a listening socket it sent. Returns
 * false for any other message.
 */
export function answerAcceptHandles(worker: Worker, msg: unknown, handle: unknown): boolean {
  const ask = msg as Ask;
  if (ask?.t !== 'accept-handles') return false;
  if (!handle) return true;
  const h = handle as { close(): void };
  const n = Math.max(0, Math.min(ask.n, 16));
  if (n === 0 || !worker.isConnected()) {
    h.close();
    return true;
  }
  // The primary's own copy closes once every copy is on its way.
  let pending = n;
  const sent = () => {
    if (--pending === 0) h.close();
  };
  for (let i = 0; i < n; i++)
    worker.send({ t: 'accept-handle', id: ask.id } satisfies Give, handle as never, sent);
  return true;
}
