/**
 * Entry of one proxy worker, forked by the primary (`fleet.ts`) with node:cluster. It serves the data path
 * (listeners shared with the other workers) and applies the changes the primary relays, in order.
 * It never touches the admin socket, the snapshot file or the pid file.
 */
import cluster from 'node:cluster';
import type { Server as NetServer } from 'node:net';
import pino from 'pino';
import { BatonError } from '../../core/errors.js';
import { inherit } from './handoff/inherit.js';
import { applyChange, type FromWorker, type ToWorker } from './ops.js';
import { ProxyServer } from './server.js';

const log = pino(
  {
    name: 'baton-proxy',
    level: process.env.BATON_PROXY_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, worker: cluster.worker?.id },
  },
  pino.destination({ dest: 1, sync: true }),
);

let server: ProxyServer | undefined;
/** How long an orphaned worker finishes what it carries (the primary's shutdown timeout). */
let settingsGraceMs = 10_000;
/** Snapshot and changes apply one after the other; status and drain questions are answered at once. */
let chain: Promise<unknown> = Promise.resolve();

const send = (msg: FromWorker): void => {
  if (process.connected) process.send!(msg);
};
const answer = (seq: number, work: () => Promise<unknown>): Promise<void> =>
  work().then(
    (value) => send({ t: 'reply', seq, ...(value === undefined ? {} : { value: value as never }) }),
    (e: unknown) => {
      const err = e instanceof BatonError ? e : new BatonError('DRIVER', (e as Error).message ?? String(e));
      if (!(e instanceof BatonError)) log.error({ err: e }, 'proxy worker failed');
      send({ t: 'reply', seq, error: { code: err.code, message: err.message } });
    },
  );

process.on('message', (msg: ToWorker) => {
  switch (msg.t) {
    case 'init':
      chain = chain.then(() =>
        answer(msg.seq, async () => {
          // Route changes are logged once, by the primary; a worker logs its own troubles.
          const quiet = log.levelVal < 40 ? log.child({}, { level: 'warn' }) : log;
          inherit(msg.settings.inherit ?? {});
          settingsGraceMs = msg.settings.shutdownTimeoutMs;
          server = await ProxyServer.worker({ snapshot: msg.snapshot, logger: quiet, ...msg.settings });
          return undefined;
        }),
      );
      return;
    case 'change':
      chain = chain.then(() =>
        answer(msg.seq, async () => {
          await applyChange(server!, msg.change);
          return undefined;
        }),
      );
      return;
    case 'status':
      void answer(msg.seq, async () => (server ? server.list() : []));
      return;
    case 'wait':
      void answer(msg.seq, async () =>
        server
          ? server.waitDrained(msg.service, msg.ids, msg.timeoutMs)
          : { drained: true, inFlight: 0, waitedMs: 0 },
      );
      return;
    case 'handles':
      // The listening sockets go to the primary as raw handles (it never accepts on them), so it can pass
      // them on to a successor (handoff.ts). Messages with a handle are delivered in order.
      void answer(msg.seq, async () => {
        const listeners = server?.listeners() ?? [];
        for (const { listen, server: s } of listeners) {
          const handle = (s as unknown as { _handle?: unknown })._handle;
          if (handle)
            process.send!({ t: 'handle', seq: msg.seq, listen } satisfies FromWorker, handle as NetServer);
        }
        return listeners.map((l) => l.listen);
      });
      return;
    case 'retire':
      void chain.then(async () => {
        // Whatever goes wrong while retiring, the final figures still go and the worker still exits:
        // a worker that never answers is killed at the deadline, and its counters are lost.
        await server?.retire(msg.graceMs).catch((e: unknown) => log.error({ err: e }, 'retiring failed'));
        const value = server ? await server.list() : [];
        // Exits once the final figures left (the primary carries them over to the successor).
        if (!process.connected) process.exit(0);
        process.send!({ t: 'reply', seq: msg.seq, value } satisfies FromWorker, undefined, {}, () =>
          process.exit(0),
        );
      });
      return;
    case 'close':
      void chain.then(async () => {
        await server?.close();
        process.exit(0);
      });
      return;
  }
});

// The primary orchestrates shutdown (a Ctrl-C reaches the whole process group).
process.on('SIGINT', () => {});
// If the primary dies (SIGKILL, or during a handoff), node:cluster would end this worker at once, cutting
// every request and WebSocket it carries. Instead it stops accepting — the listening sockets stay open in
// whichever proxy holds them too, whose workers take the new connections — finishes what it carries
// (bounded by the shutdown timeout) and exits. `exitedAfterDisconnect` is what cluster checks.
if (cluster.worker) {
  const worker = cluster.worker;
  worker.exitedAfterDisconnect = true;
  worker.once('disconnect', () => {
    log.warn('the proxy primary is gone: finishing what this worker carries, then exiting');
    const graceMs = settingsGraceMs;
    void (server ? server.retire(graceMs) : Promise.resolve()).finally(() => process.exit(0));
  });
}
// Every request path answers its own errors (502/503/504); an exception that escapes anyway is logged with
// its stack and the worker keeps serving: exiting would cut every in-flight request of every service here.
process.on('uncaughtException', (e) => {
  log.error({ err: e }, 'uncaught exception in proxy worker (still serving)');
});
send({ t: 'hello' });
