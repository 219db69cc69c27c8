import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { BackendEntry } from './backend.js';
import { upgradeHead } from './headers.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';
import { ANY, PREVIEW } from './split.js';

const MAX_ATTEMPTS = 4;

/**
 * WebSocket (or any `Upgrade`) pass-through: connects to a backend, forwards the request head and pipes
 * both ways. The tunnel counts as open on its backend until either side closes, so draining waits for it.
 * Production upgrades follow the revision split like requests do (no sticky cookie is set on a 101);
 * `preview` ones go to the preview revision and stay out of the revision counters.
 */
export function tunnel(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  preview = false,
): void {
  client.on('error', () => client.destroy());
  const now = performance.now();
  let target = preview ? PREVIEW : ANY;
  let first: BackendEntry | undefined;
  const plan = preview ? undefined : table.split;
  if (plan !== undefined) ({ backend: first, target } = plan.choose(table, req.headers, now));
  else first = table.pickFor(target, now, undefined);
  attempt(table, plane, req, client, head, target, first, undefined, 1);
}

function attempt(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: number,
  chosen: BackendEntry | undefined,
  tried: BackendEntry[] | undefined,
  n: number,
): void {
  if (client.destroyed) return;
  const b = chosen ?? (tried ? table.pickFor(target, performance.now(), tried) : undefined);
  if (b === undefined) {
    const [status, kind, body] = tried
      ? ['502 Bad Gateway', 'upstream-failed', `baton: upstream failed for service ${table.service}\n`]
      : target === PREVIEW
        ? [
            '503 Service Unavailable',
            'no-preview',
            `baton: no preview revision for service ${table.service}\n`,
          ]
        : [
            '503 Service Unavailable',
            'no-healthy-backend',
            `baton: no healthy backend for service ${table.service}\n`,
          ];
    rawReply(client, status, kind, body);
    return;
  }
  b.websockets++;
  b.requests++;
  let connected = false;
  const up: Socket = connect({ host: b.host, port: b.port });
  up.setNoDelay(true);
  up.once('connect', () => {
    connected = true;
    b.tunnels.add(up);
    up.write(upgradeHead(req));
    if (head.length > 0) up.write(head);
    up.pipe(client);
    client.pipe(up);
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (connected) return; // 'close' follows and tears the tunnel down
    b.passiveUntil = performance.now() + plane.passiveUnhealthyMs;
    if (target !== PREVIEW) table.counters(b.revision).observe(0, true);
    if (n < MAX_ATTEMPTS) {
      attempt(table, plane, req, client, head, target, undefined, [...(tried ?? []), b], n + 1);
    } else {
      rawReply(
        client,
        '502 Bad Gateway',
        'upstream-failed',
        `baton: upstream failed for service ${table.service} (${err.code})\n`,
      );
    }
  });
  up.once('close', () => {
    b.tunnels.delete(up);
    release(plane, b, true);
    if (connected) client.destroy();
  });
  client.once('close', () => up.destroy());
}

/** Answers an upgrade request on its raw socket and closes it. `extra`: more header lines, CRLF-ended. */
export function rawReply(client: Duplex, status: string, kind: string, body: string, extra = ''): void {
  client.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Baton-Error: ${kind}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}
