import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { BackendEntry } from './backend.js';
import { upgradeHead } from './headers.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';

const MAX_ATTEMPTS = 4;

/**
 * WebSocket (or any `Upgrade`) pass-through: connects to a backend, forwards the request head and pipes
 * both ways. The tunnel counts as open on its backend until either side closes, so draining waits for it.
 */
export function tunnel(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): void {
  client.on('error', () => client.destroy());
  attempt(table, plane, req, client, head, undefined, 1);
}

function attempt(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  tried: BackendEntry[] | undefined,
  n: number,
): void {
  if (client.destroyed) return;
  const b = table.pick(performance.now(), tried);
  if (b === undefined) {
    const [status, kind, body] = tried
      ? ['502 Bad Gateway', 'upstream-failed', `baton: upstream failed for service ${table.service}\n`]
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
    table.counters(b.revision).observe(0, true);
    if (n < MAX_ATTEMPTS) {
      attempt(table, plane, req, client, head, [...(tried ?? []), b], n + 1);
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

function rawReply(client: Duplex, status: string, kind: string, body: string): void {
  client.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Baton-Error: ${kind}\r\nConnection: close\r\n\r\n${body}`,
  );
}
