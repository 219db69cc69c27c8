import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
} from 'node:http2';
import { performance } from 'node:perf_hooks';
import { attemptFailed, MAX_ATTEMPTS, retryOn } from './attempt.js';
import type { BackendEntry } from './backend.js';
import { reply } from './exchange.js';
import { isH2 } from './h2.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';
import { PREVIEW, type SplitPlan } from './split.js';

/** Fields that never cross into an HTTP/2 message (RFC 9113 §8.2.2), besides `te` other than "trailers". */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
  'expect',
]);

/**
 * gRPC codes that say the server failed, as a 5xx does (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
 * INTERNAL, UNAVAILABLE, DATA_LOSS): they count as errors for the revision, so canary analysis and
 * `baton status` see a failing gRPC version. Codes about the call itself (NOT_FOUND, INVALID_ARGUMENT…) do not.
 */
const GRPC_SERVER_ERRORS = new Set(['2', '4', '12', '13', '14', '15']);

/**
 * One client request to an instance that speaks HTTP/2 in clear text (`traffic.upstream: h2c`, gRPC):
 * a stream on the backend's shared session. Bodies flow both ways as they come (server and client
 * streaming), each direction paused while the other side's buffer is full (backpressure; HTTP/2 flow
 * control on both connections); trailers (`grpc-status`, `grpc-message`) are passed on.
 */
export class H2cExchange {
  private backend: BackendEntry | undefined;
  private stream: ClientHttp2Stream | undefined;
  private readonly h2: boolean;
  private readonly hasBody: boolean;
  private attempts = 0;
  private tried: BackendEntry[] | undefined;
  private bodyStarted = false;
  private responded = false;
  private failed = false;
  private done = false;
  private grpcError = false;

  constructor(
    private readonly table: ServiceTable,
    private readonly plane: DataPlane,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly start: number,
    private readonly target: number,
    private readonly sticky: SplitPlan | undefined,
  ) {
    this.h2 = isH2(req);
    this.hasBody = this.h2
      ? !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders
      : req.headers['transfer-encoding'] !== undefined ||
        (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    res.once('close', () => this.close());
  }

  send(b: BackendEntry): void {
    this.backend = b;
    this.attempts++;
    b.inFlight++;
    b.requests++;
    b.h2c().get((err, session) => {
      if (this.done) return;
      if (err !== undefined || session === undefined) this.attemptFailed(err?.code ?? 'ECONNREFUSED');
      else this.open(session);
    });
  }

  private open(session: ClientHttp2Session): void {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(this.upstreamHeaders(), { endStream: !this.hasBody });
    } catch (e) {
      this.attemptFailed((e as NodeJS.ErrnoException).code ?? 'ERR_HTTP2_INVALID_SESSION');
      return;
    }
    this.stream = stream;
    stream.setTimeout(this.table.limits.responseTimeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.on('response', (h, flags) =>
      this.onResponse(h, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0),
    );
    stream.on('trailers', (t) => this.onTrailers(t));
    stream.on('data', (c: Buffer) => {
      if (!this.res.write(c)) {
        stream.pause();
        this.res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      if (this.responded && !this.res.writableEnded) this.res.end();
    });
    stream.on('error', () => {});
    stream.on('close', () => this.upstreamClosed(stream));
    if (this.hasBody) {
      this.bodyStarted = true;
      // pipe: the client's body waits while the upstream stream's window is used up, and the reverse.
      this.req.pipe(stream);
    }
  }

  private upstreamHeaders(): OutgoingHttpHeaders {
    const req = this.req;
    const out: OutgoingHttpHeaders = {};
    const raw = req.rawHeaders;
    let authority: string | undefined;
    let host: string | undefined;
    let prior: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      if (name.charCodeAt(0) === 58) {
        if (name === ':authority') authority = value;
        continue;
      }
      if (name === 'host') host ??= value;
      if (CONNECTION_SPECIFIC.has(name)) continue;
      if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
      if (name === 'x-forwarded-for') {
        prior = prior === undefined ? value : `${prior}, ${value}`;
        continue;
      }
      if (name === 'x-forwarded-proto' || name === 'x-forwarded-host') continue;
      const prev = out[name];
      out[name] = prev === undefined ? value : ([] as string[]).concat(prev as string | string[], value);
    }
    const via = authority ?? host;
    const socket = this.h2
      ? (
          req as unknown as {
            stream: { session?: { socket?: { remoteAddress?: string; encrypted?: boolean } } };
          }
        ).stream.session?.socket
      : (req.socket as { remoteAddress?: string; encrypted?: boolean });
    const client = socket?.remoteAddress ?? '';
    out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
    out['x-forwarded-proto'] = socket?.encrypted === true ? 'https' : 'http';
    if (via !== undefined) out['x-forwarded-host'] = via;
    out[':method'] = req.method ?? 'GET';
    out[':path'] = req.url ?? '/';
    out[':scheme'] = 'http';
    if (via !== undefined) out[':authority'] = via;
    return out;
  }

  /** `ended`: the head ended the stream (a trailers-only answer), and so must the client's. */
  private onResponse(h: IncomingHttpHeaders, ended: boolean): void {
    if (this.done) return;
    const status = Number(h[':status']);
    if (status < 200) return;
    const headers: OutgoingHttpHeaders = {};
    for (const name of Object.keys(h)) {
      if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name)) continue;
      headers[name] = h[name];
    }
    // A trailers-only answer (a gRPC error without a body) carries grpc-status in its head.
    this.noteGrpc(h['grpc-status']);
    const cookie = this.sticky?.cookies.get(this.backend!.revision);
    if (cookie !== undefined)
      headers['set-cookie'] = ([] as string[]).concat(headers['set-cookie'] ?? [], cookie);
    try {
      if (ended && this.h2) {
        // A trailers-only answer must stay one HEADERS frame that ends the stream (gRPC reads its status
        // there only then); the compatibility response would send an empty DATA frame to end it.
        (this.res as unknown as Http2ServerResponse).stream.respond(
          { ...headers, ':status': status },
          { endStream: true },
        );
        this.responded = true;
        return;
      }
      this.res.writeHead(status, headers);
    } catch {
      this.failed = true;
      this.stream?.close(constants.NGHTTP2_PROTOCOL_ERROR);
      reply(
        this.res,
        502,
        'upstream-failed',
        `baton: malformed response from service ${this.table.service}\n`,
      );
      return;
    }
    this.responded = true;
    // Its head and end in one frame: gRPC reads grpc-status there only if the head ends the stream.
    if (ended) this.res.end();
    // A streamed answer's head goes out at once: the client knows its call was taken.
    else this.res.flushHeaders();
  }

  private onTrailers(t: IncomingHttpHeaders): void {
    this.noteGrpc(t['grpc-status']);
    const trailers: Record<string, string> = {};
    for (const name of Object.keys(t)) {
      if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name)) continue;
      const v = t[name];
      trailers[name] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    // HTTP/1.1 clients get trailers only in a chunked body, and node sends them only then.
    this.res.addTrailers(trailers);
  }

  private noteGrpc(status: string | string[] | undefined): void {
    if (typeof status === 'string' && GRPC_SERVER_ERRORS.has(status)) this.grpcError = true;
  }

  private upstreamClosed(stream: ClientHttp2Stream): void {
    if (this.done || stream !== this.stream) return;
    const code = stream.rstCode ?? 0;
    if (this.res.writableEnded && code === constants.NGHTTP2_NO_ERROR) return;
    if (!this.responded) {
      // Refused: the instance took nothing (GOAWAY, its stream limit); another may, if no body was read.
      this.attemptFailed(code === constants.NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : `H2_RST_${code}`);
      return;
    }
    if (!this.res.writableEnded) {
      this.plane.cut(this.table.service, this.backend!, `H2_RST_${code}`);
      this.failed = true;
      this.res.destroy();
    }
  }

  private attemptFailed(code: string): void {
    const b = this.backend!;
    this.backend = undefined;
    this.stream = undefined;
    const failed = attemptFailed(this.plane, this.table, this.target, b, this.start, code);
    const { refused } = failed;
    // A refused stream (RFC 9113 §8.7) was not processed either: it may go again.
    if ((refused || code === 'REFUSED_STREAM') && !this.bodyStarted && this.attempts < MAX_ATTEMPTS) {
      this.tried ??= [];
      const next = retryOn(this.table, this.target, this.tried, b, failed);
      if (next !== undefined) {
        this.send(next);
        return;
      }
    }
    const service = this.table.service;
    if (refused)
      reply(
        this.res,
        503,
        'upstream-unavailable',
        `baton: upstream unavailable for service ${service} (${code})\n`,
      );
    else reply(this.res, 502, 'upstream-failed', `baton: upstream failed for service ${service} (${code})\n`);
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    const b = this.backend;
    if (b === undefined) return;
    const s = this.stream;
    // The client left (or was answered) before the instance finished: that stream is cancelled.
    if (s !== undefined && !s.closed) s.close(constants.NGHTTP2_CANCEL);
    release(this.plane, b, false);
    if (this.target === PREVIEW) return;
    const status = this.responded ? this.res.statusCode : 0;
    this.table
      .counters(b.revision)
      .observe(
        performance.now() - this.start,
        this.failed || this.res.statusCode >= 500 || this.grpcError,
        status,
      );
  }
}
