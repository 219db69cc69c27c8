#!/usr/bin/env node
/**
 * Entry of the proxy process: `node dist/router/proxy/main.js --data-dir DIR [--log-level info]
 * [--workers N]`. Runs apart from the control plane, so restarting the control plane drops no request.
 * This process (the primary) keeps the admin socket and the snapshot; N worker processes carry the traffic
 * (`--workers`, else `BATON_PROXY_WORKERS`, else one per CPU; 0 serves it in this process).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { acceptHandlesFromEnv } from './accept-handles.js';
import { INHERIT_ENV, inherit } from './handoff/inherit.js';
import { failSuccession, succeed } from './handoff/successor.js';
import { ProxyServer } from './server.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'shutdown-timeout-ms': { type: 'string', default: '10000' },
    workers: { type: 'string' },
    // Started by a running proxy to replace it (handoff.ts); not for people.
    successor: { type: 'boolean', default: false },
  },
});
const successor = values.successor === true;
const dataDir = values['data-dir'];
const workersText = values.workers ?? process.env.BATON_PROXY_WORKERS ?? String(availableParallelism());
const workers = Number(workersText);
if (!dataDir || !Number.isInteger(workers) || workers < 0 || workers > 256) {
  process.stderr.write(
    'usage: main.js --data-dir DIR [--log-level info] [--shutdown-timeout-ms 10000] [--workers N (0-256)]\n',
  );
  process.exit(2);
}
if (acceptHandlesFromEnv(process.env.BATON_PROXY_ACCEPT_HANDLES) === undefined) {
  process.stderr.write(
    `BATON_PROXY_ACCEPT_HANDLES must be a whole number from 1 to 64 (got "${process.env.BATON_PROXY_ACCEPT_HANDLES}")\n`,
  );
  process.exit(2);
}

const log = pino(
  { name: 'baton-proxy', level: values['log-level'] },
  pino.destination({ dest: 1, sync: true }),
);

let server: ProxyServer | undefined;
try {
  if (successor) inherit(JSON.parse(process.env[INHERIT_ENV] ?? '{}') as Record<string, number>);
  server = await ProxyServer.start({
    successor,
    onReplaced: () => {
      log.info('replaced by a new proxy; exiting');
      void server?.close().finally(() => process.exit(0));
    },
    dataDir,
    logger: log,
    shutdownTimeoutMs: Number(values['shutdown-timeout-ms']),
    workers,
    logLevel: values['log-level'],
  });
} catch (e) {
  const msg = (e as Error).message;
  log.fatal({ err: e }, msg);
  process.stderr.write(`baton ${msg}\n`);
  if (successor) failSuccession(msg);
  else process.exit(1);
}
if (successor && server) succeed(server, log);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  if (!server) return;
  server.close().then(
    () => process.exit(0),
    (e: unknown) => {
      log.error({ err: e }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// As in a worker (worker.ts): logged with its stack, and the proxy keeps serving what it carries.
process.on('uncaughtException', (e) => {
  log.error({ err: e }, 'uncaught exception (still serving)');
});
