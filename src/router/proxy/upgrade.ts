import { type IncomingMessage, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Client, Dispatcher } from 'undici';
import type { BackendEntry } from './backend.js';
import { downstreamHeaders, upstreamHeaders } from './headers.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';
import { ANY, PREVIEW } from './split.js';

const MAX_ATTEMPTS = 4;
/** A reason phrase node would send: no control characters but tab. */
const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * WebSocket (or any `Upgrade`) pass-through: the upgrade request goes to a backend through undici, and
 * only a `101 Switching Protocols` turns the connection into a tunnel (piped both ways); any other answer
 * is passed on as a plain response and the client connection closed. The upgrade counts as open on its
 * backend until either side closes, so draining waits for it. Production upgrades follow the revision
 * split like requests do (no sticky cookie is set on a 101); `preview` ones go to the preview revision
 * and stay out of the revision counters.
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
  // Nothing the client sends before the 101 is lost (the raw socket has no reader yet).
  client.pause();
  const now = performance.now();
  let target = preview ? PREVIEW : ANY;
  let first: BackendEntry | undefined;
  const plan = preview ? undefined : table.split;
  if (plan !== undefined) ({ backend: first, target } = plan.choose(table, req.headers, now));
  else first = table.pickFor(target, now, undefined);
  if (first === undefined) {
    const none = target === PREVIEW ? 'no preview revision' : 'no healthy backend';
    rawReply(
      client,
      '503 Service Unavailable',
      target === PREVIEW ? 'no-preview' : 'no-healthy-backend',
      `baton: ${none} for service ${table.service}\n`,
    );
    return;
  }
  new Upgrade(table, plane, req, client, head, target).send(first);
}

class Upgrade implements Dispatcher.DispatchHandler {
  private backend: BackendEntry | undefined;
  private upstream: Client | undefined;
  private readonly headers: string[] = [];
  private abort: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private responded = false;
  private tried: BackendEntry[] = [];

  constructor(
    private readonly table: ServiceTable,
    private readonly plane: DataPlane,
    private readonly req: IncomingMessage,
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly target: number,
  ) {
    upstreamHeaders(req, this.headers);
    client.once('close', () => {
      this.abort?.();
      this.finish();
    });
  }

  send(b: BackendEntry): void {
    this.backend = b;
    b.websockets++;
    b.requests++;
    this.upstream = b.upstreams.client();
    this.upstream.dispatch(
      {
        method: this.req.method ?? 'GET',
        path: this.req.url ?? '/',
        headers: this.headers,
        upgrade: this.req.headers.upgrade ?? 'websocket',
      },
      this,
    );
  }

  /** Ends the upgrade's count on its backend (once) and lets its upstream client go. */
  private finish(): void {
    const b = this.backend;
    if (b === undefined) return;
    this.backend = undefined;
    if (this.upstream) b.upstreams.drop(this.upstream);
    release(this.plane, b, true);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.client.destroyed) abort();
    else this.abort = abort;
  }

  onUpgrade(status: number, raw: Buffer[] | string[] | null, duplex: Duplex): void {
    // undici hands over the connection's net.Socket.
    const socket = duplex as Socket;
    const b = this.backend;
    if (b === undefined || this.client.destroyed) {
      socket.destroy();
      return;
    }
    this.responded = true;
    this.abort = undefined;
    socket.setNoDelay(true);
    b.tunnels.add(socket);
    let out = `HTTP/1.1 ${status} Switching Protocols\r\n`;
    const list = raw ?? [];
    for (let i = 0; i < list.length; i += 2) out += `${list[i]!.toString()}: ${list[i + 1]!.toString()}\r\n`;
    this.client.write(`${out}\r\n`, 'latin1');
    if (this.head.length > 0) socket.write(this.head);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      b.tunnels.delete(socket);
      this.client.destroy();
    });
    this.client.once('close', () => socket.destroy());
    socket.pipe(this.client);
    this.client.pipe(socket);
  }

  /** Anything but a 101: a plain response, then the connection closes (it was never upgraded). */
  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200 || this.client.destroyed) return true;
    const headers = downstreamHeaders(raw);
    let out = `HTTP/1.1 ${status} ${statusText}\r\n`;
    try {
      if (!REASON.test(statusText)) throw new Error('control character in the reason phrase');
      for (let i = 0; i < headers.length; i += 2) {
        const lower = headers[i]!.toLowerCase();
        if (lower === 'transfer-encoding') continue;
        validateHeaderValue(headers[i]!, headers[i + 1]!);
        out += `${headers[i]}: ${headers[i + 1]}\r\n`;
      }
    } catch (e) {
      this.abort?.(e as Error);
      return true;
    }
    this.responded = true;
    this.resume = resume;
    this.client.write(`${out}Connection: close\r\n\r\n`, 'latin1');
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.client.write(chunk)) return true;
    this.client.once('drain', () => this.resume?.());
    return false;
  }

  onComplete(): void {
    endRaw(this.client);
  }

  onError(err: Error): void {
    if (this.client.destroyed) return;
    if (this.responded) {
      this.client.destroy();
      return;
    }
    const b = this.backend!;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const connectFailed = code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT';
    this.finish();
    if (connectFailed) b.passiveUntil = performance.now() + this.plane.passiveUnhealthyMs;
    if (this.target !== PREVIEW) this.table.counters(b.revision).observe(0, true);
    this.tried.push(b);
    const next =
      connectFailed && this.tried.length < MAX_ATTEMPTS
        ? this.table.pickFor(this.target, performance.now(), this.tried)
        : undefined;
    if (next !== undefined) {
      this.send(next);
      return;
    }
    rawReply(
      this.client,
      '502 Bad Gateway',
      'upstream-failed',
      `baton: upstream failed for service ${this.table.service} (${code || err.message})\n`,
    );
  }
}

/** Answers an upgrade request on its raw socket and closes it. `extra`: more header lines, CRLF-ended. */
export function rawReply(client: Duplex, status: string, kind: string, body: string, extra = ''): void {
  client.write(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Baton-Error: ${kind}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
  endRaw(client);
}

/** Ends a raw client connection; what it still sends is read and dropped, so its close is seen. */
function endRaw(client: Duplex): void {
  client.end();
  client.resume();
}
