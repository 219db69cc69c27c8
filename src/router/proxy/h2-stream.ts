import { EventEmitter } from 'node:events';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import type { Http2SecureServer, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * The common HTTP/2 request without the compatibility layer: node:http2 builds a request and a response
 * object (two streams, a dozen listeners) for every stream, about a fifth of a worker's time per HTTP/2
 * request (BENCHMARKS.md). A request without a body that goes straight to an HTTP/1.1 instance needs
 * none of that: these two objects carry what the forwarding path reads of a request and does to a
 * response, on the stream itself. Everything else (bodies, holds, maintenance, h2c, CONNECT, Expect)
 * still gets node's objects.
 */

/** What the forwarding path reads of a request, taken from the stream's HEADERS frame. */
export class H2StreamRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
    /** Names and values as received, pseudo-headers included (as node's compatibility request has them). */
    readonly rawHeaders: string[],
  ) {
    this.method = headers[':method'] as string;
    this.url = headers[':path'] as string;
  }

  /** The client connection (TLS socket). */
  get socket(): Socket {
    return this.stream.session?.socket as Socket;
  }
}

const RESPONSE = Symbol('baton.h2-response');
type Tagged = ServerHttp2Stream & { [RESPONSE]?: H2StreamResponse };

function relayClose(this: Tagged): void {
  this[RESPONSE]!.emit('close');
}
function relayDrain(this: Tagged): void {
  this[RESPONSE]!.emit('drain');
}
// A reset or a protocol error concerns this stream only; its 'close' follows and ends the exchange.
function ignore(): void {}

/**
 * The response side: `writeHead` sends the HEADERS frame at once (as node's compatibility response
 * does), with the same checks of names and values (a malformed field throws, and the exchange answers
 * 502). nghttp2 ends the stream itself with the head for HEAD, 204 and 304.
 */
export class H2StreamResponse extends EventEmitter {
  statusCode = 200;

  constructor(readonly stream: ServerHttp2Stream) {
    super();
    const s = stream as Tagged;
    s[RESPONSE] = this;
    s.on('close', relayClose);
    s.on('drain', relayDrain);
    s.on('error', ignore);
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }
  get writableEnded(): boolean {
    return this.stream.writableEnded;
  }
  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }
  get destroyed(): boolean {
    return this.stream.destroyed;
  }

  /** `headers`: a flat `[name, value, …]` list or an object; a repeated name keeps every value. */
  writeHead(
    status: number,
    reasonOrHeaders?: string | string[] | Record<string, string | number>,
    maybeHeaders?: string[] | Record<string, string | number>,
  ): this {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return this;
    const given = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
    const out: Record<string, string | number | string[]> = { ':status': status };
    if (Array.isArray(given)) {
      for (let i = 0; i < given.length; i += 2) add(out, given[i]!, given[i + 1]!);
    } else if (given !== undefined) {
      for (const name of Object.keys(given)) add(out, name, given[name]!);
    }
    this.statusCode = status;
    stream.respond(out);
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.stream.writableEnded || this.stream.destroyed) return false;
    if (!this.stream.headersSent) this.writeHead(this.statusCode);
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer | string): this {
    const stream = this.stream;
    if (!stream.headersSent && !stream.destroyed) this.writeHead(this.statusCode);
    // HEAD, 204 and 304 ended with their head: a body given now (an error page) is not theirs to send.
    if (stream.writableEnded || stream.destroyed) return this;
    if (chunk === undefined) stream.end();
    else stream.end(chunk);
    return this;
  }

  /** The head goes out with `writeHead`: nothing is held back. */
  flushHeaders(): void {}

  destroy(err?: Error): this {
    this.stream.destroy(err);
    return this;
  }

  /** 102: an interim head on the stream. */
  writeProcessing(): void {
    if (!this.stream.headersSent && !this.stream.destroyed) this.stream.additionalHeaders({ ':status': 102 });
  }

  /** 103 Early Hints: an interim head with its fields. */
  writeEarlyHints(hints: Record<string, string | string[]>): void {
    if (this.stream.headersSent || this.stream.destroyed) return;
    const out: Record<string, string | number | string[]> = { ':status': 103 };
    for (const name of Object.keys(hints)) add(out, name, hints[name]!);
    this.stream.additionalHeaders(out);
  }
}

function add(
  out: Record<string, string | number | string[]>,
  rawName: string,
  value: string | number | string[],
): void {
  const name = rawName.toLowerCase();
  validateHeaderName(name);
  for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(v));
  const prev = out[name];
  if (prev === undefined) out[name] = value;
  else out[name] = [prev, value].flat().map(String);
}

/**
 * Puts `fast` in front of node's compatibility handler of `server`'s HTTP/2 streams: a stream `fast`
 * takes (returns true) gets no compatibility objects; any other goes on to node's handler as before.
 */
export function takeStreams(
  server: Http2SecureServer,
  fast: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, raw: string[]) => boolean,
): void {
  const compat = server.listeners('stream') as Array<(...args: unknown[]) => void>;
  server.removeAllListeners('stream');
  server.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]) => {
      if (fast(stream, headers, raw)) return;
      for (const l of compat) l.call(server, stream, headers, flags, raw);
    },
  );
}

/** The adapters as the types the forwarding path is written for (it reads and calls only the above). */
export const asRequest = (req: H2StreamRequest): IncomingMessage => req as unknown as IncomingMessage;
export const asResponse = (res: H2StreamResponse): ServerResponse => res as unknown as ServerResponse;
