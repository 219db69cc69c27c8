import {
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { MAINTENANCE_RETRY_AFTER_S } from '../validate.js';
import type { BackendEntry } from './backend.js';
import { downstreamHeaders, upstreamHeaders } from './headers.js';
import { type DataPlane, release } from './plane.js';
import type { RawOwner } from './pool.js';
import { ResponseReader, type ResponseSink } from './response.js';
import type { ServiceTable } from './service.js';
import { ANY, PREVIEW, type SplitPlan } from './split.js';

/** Errors that can only happen while connecting: nothing reached the backend. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** First try plus retries, whatever their reason. */
const MAX_ATTEMPTS = 4;

/** Proxies one HTTP request of `table`'s service to production backends (split between revisions). */
export function forward(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const start = performance.now();
  const plan = table.split;
  let b: BackendEntry | undefined;
  let target = ANY;
  let sticky: SplitPlan | undefined;
  if (plan === undefined) b = table.pick(start, undefined);
  else ({ backend: b, target, sticky } = plan.choose(table, req.headers, start));
  if (b === undefined) {
    reply(res, 503, 'no-healthy-backend', `baton: no healthy backend for service ${table.service}\n`);
    return;
  }
  new Exchange(table, plane, req, res, start, target, sticky).send(b);
}

/** Proxies one request of the preview listener to the preview revision (kept out of revision counters). */
export function forwardPreview(
  table: ServiceTable,
  plane: DataPlane,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const start = performance.now();
  const b = table.pickPreview(start, undefined);
  if (b === undefined) {
    reply(res, 503, 'no-preview', `baton: no preview revision for service ${table.service}\n`);
    return;
  }
  new Exchange(table, plane, req, res, start, PREVIEW, undefined).send(b);
}

/** The maintenance answer: 503, the page and `Retry-After`. */
export function maintenanceReply(table: ServiceTable, res: ServerResponse): void {
  const body = table.maintenanceBody;
  res.writeHead(503, {
    'content-type': `${body.trimStart().startsWith('<') ? 'text/html' : 'text/plain'}; charset=utf-8`,
    'content-length': Buffer.byteLength(body),
    'retry-after': String(MAINTENANCE_RETRY_AFTER_S),
    'x-baton-error': 'maintenance',
  });
  res.end(body);
}

/** Answers with a short text error from the proxy itself. */
export function reply(res: ServerResponse, status: number, kind: string, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-baton-error': kind,
  });
  res.end(body);
}

const EXCHANGE = Symbol('baton.exchange');
/** Emitters carry their exchange, so listeners are shared functions rather than closures per request. */
interface Tagged {
  [EXCHANGE]?: Exchange;
}

function onClientClose(this: ServerResponse & Tagged): void {
  this[EXCHANGE]!.close();
}
function onUpstreamResponse(this: ClientRequest & Tagged, up: IncomingMessage & Tagged): void {
  this[EXCHANGE]!.response(this, up);
}
function onUpstreamError(this: ClientRequest & Tagged, err: NodeJS.ErrnoException): void {
  this[EXCHANGE]!.error(this, err);
}
function onUpstreamSocket(this: ClientRequest & Tagged, s: Socket): void {
  const x = this[EXCHANGE]!;
  if (s.connecting) s.once('connect', () => x.pipeBody(this));
  else x.pipeBody(this);
}
function onResponseError(this: IncomingMessage & Tagged): void {
  this[EXCHANGE]!.responseFailed();
}
// The response body is copied with two shared listeners rather than `pipe` (which adds and removes six
// listeners on both streams per request).
function onResponseData(this: IncomingMessage & Tagged, chunk: Buffer): void {
  const res = this[EXCHANGE]!.res;
  if (!res.write(chunk)) {
    this.pause();
    res.once('drain', onClientDrain);
  }
}
function onResponseEnd(this: IncomingMessage & Tagged): void {
  this[EXCHANGE]!.res.end();
}
function onClientDrain(this: ServerResponse & Tagged): void {
  this[EXCHANGE]!.upstreamResponse?.resume();
}
/**
 * Sends a response head that came without its body at once (node holds a head back until the first body
 * write): a client of a streamed or long response knows it is answered, as with HAProxy. Run after the
 * reads that delivered the head, so a head and body that came together still go out in one write.
 */
function flushLoneHead(res: ServerResponse): void {
  // (A head already sent with body bytes makes this a write of nothing.)
  if (!res.writableEnded && !res.destroyed) res.flushHeaders();
}

function onClientDrainRaw(this: ServerResponse & Tagged): void {
  this[EXCHANGE]!.resumeRaw();
}

/** The request line and headers of a raw upstream request (the values came from node's parser). */
function requestHead(method: string, url: string, headers: string[]): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * One client request and its upstream attempts. The client's body is only read once the upstream
 * socket is connected, so a refused connection can be retried elsewhere for any method.
 *
 * Requests without a body (nearly all of them) take the raw path: the proxy writes the request head on a
 * pooled connection itself and reads the answer with `ResponseReader`, without a `ClientRequest`, an
 * `IncomingMessage` stream or a parser per request (profiling showed those as most of the proxy's own
 * CPU per request). Requests with a body go through `http.request`, which streams it.
 */
class Exchange implements RawOwner, ResponseSink {
  private backend: BackendEntry | undefined;
  private upstream: ClientRequest | undefined;
  /** Upstream request headers, built once for every attempt. */
  private readonly headers: string[] = [];
  private readonly hasBody: boolean;
  upstreamResponse: IncomingMessage | undefined;
  /** Raw path: the connection carrying the current attempt, its reader, whether it was reused. */
  private raw: Socket | undefined;
  private reader: ResponseReader | undefined;
  private rawReused = false;
  private rawHead: string | undefined;
  private last: Buffer | undefined;
  private bodyStarted = false;
  private responded = false;
  private failed = false;
  private done = false;
  private attempts = 0;
  private retriedAfterSend = false;
  private tried: BackendEntry[] | undefined;

  constructor(
    private readonly table: ServiceTable,
    private readonly plane: DataPlane,
    private readonly req: IncomingMessage,
    readonly res: ServerResponse & Tagged,
    private readonly start: number,
    /** `ANY`, `PREVIEW` or the revision chosen for the request (retries stay within it). */
    private readonly target: number,
    /** Set when the answer carries the sticky cookie of the revision that answers. */
    private readonly sticky: SplitPlan | undefined,
  ) {
    this.hasBody = upstreamHeaders(req, this.headers);
    res[EXCHANGE] = this;
    res.on('close', onClientClose);
  }

  /** `fresh`: bypass the pool (after a stale keep-alive socket, the others may be stale too). */
  send(b: BackendEntry, fresh = false): void {
    this.backend = b;
    this.attempts++;
    b.inFlight++;
    b.requests++;
    if (!this.hasBody) {
      this.sendRaw(b, fresh);
      return;
    }
    const up: ClientRequest & Tagged = request({
      host: b.host,
      port: b.port,
      method: this.req.method,
      path: this.req.url,
      headers: this.headers,
      agent: fresh ? false : (b.pool as unknown as Agent),
      setHost: false,
    });
    up[EXCHANGE] = this;
    this.upstream = up;
    up.on('response', onUpstreamResponse);
    up.on('error', onUpstreamError);
    up.on('socket', onUpstreamSocket);
  }

  private sendRaw(b: BackendEntry, fresh: boolean): void {
    let s = fresh ? undefined : b.raw.take(this);
    this.rawReused = s !== undefined;
    s ??= b.raw.open(this);
    this.raw = s;
    const method = this.req.method ?? 'GET';
    this.reader = new ResponseReader(method === 'HEAD');
    this.rawHead ??= requestHead(method, this.req.url ?? '/', this.headers);
    s.write(this.rawHead, 'latin1');
  }

  rawData(s: Socket, chunk: Buffer): void {
    if (s !== this.raw) return;
    try {
      this.reader!.feed(chunk, this);
    } catch (e) {
      this.rawFailed(s, Object.assign(e as Error, { code: 'EPROTO' }), true);
    }
  }

  rawEnd(s: Socket): void {
    if (s !== this.raw) return;
    if (this.reader!.closed(this)) return;
    const err = new Error('upstream closed the connection') as NodeJS.ErrnoException;
    err.code = 'ECONNRESET';
    this.rawFailed(s, err, false);
  }

  rawError(s: Socket, err: NodeJS.ErrnoException): void {
    if (s === this.raw) this.rawFailed(s, err, false);
  }

  private rawFailed(s: Socket, err: NodeJS.ErrnoException, protocol: boolean): void {
    const b = this.backend!;
    this.raw = undefined;
    b.raw.forget(s);
    s.destroy();
    if (this.done) return;
    if (this.responded) {
      this.responseFailed();
      return;
    }
    // Stale: a reused connection the backend had closed before reading this request (nothing came back).
    // A malformed answer means the request reached the backend.
    const code = err.code;
    const stale =
      this.rawReused &&
      !protocol &&
      this.reader!.received === 0 &&
      (code === 'ECONNRESET' || code === 'EPIPE');
    this.attemptFailed(err, stale);
  }

  /** ResponseSink: the status and headers arrived. */
  head(r: ResponseReader): void {
    this.responded = true;
    if (this.done) return;
    const headers = r.headers;
    const cookie = this.sticky?.cookies.get(this.backend!.revision);
    if (cookie !== undefined) headers.push('Set-Cookie', cookie);
    try {
      this.res.writeHead(r.status, r.reason, headers);
      setImmediate(flushLoneHead, this.res);
    } catch (e) {
      // Header values node refuses to send (control characters): handled as a malformed response.
      this.responded = false;
      throw e;
    }
  }

  /** ResponseSink: part of the body. */
  body(data: Buffer): boolean {
    // The last part goes out with `end` (one write call instead of two).
    if (this.reader!.done) {
      this.last = data;
      return true;
    }
    if (this.res.write(data)) return true;
    this.raw?.pause();
    this.res.once('drain', onClientDrainRaw);
    return false;
  }

  /** ResponseSink: the whole response was read; the connection goes back to the pool if it can. */
  end(): void {
    const s = this.raw!;
    const r = this.reader!;
    this.raw = undefined;
    const pool = this.backend!.raw;
    if (r.reusable && !r.untilClose) {
      if (s.isPaused()) s.resume();
      pool.put(s, r.keepAliveMs);
    } else {
      pool.forget(s);
      s.destroy();
    }
    const last = this.last;
    this.last = undefined;
    this.res.end(last);
  }

  resumeRaw(): void {
    this.raw?.resume();
  }

  pipeBody(up: ClientRequest): void {
    if (this.done || this.bodyStarted || up !== this.upstream || up.destroyed) return;
    this.bodyStarted = true;
    this.req.pipe(up);
  }

  response(from: ClientRequest, up: IncomingMessage & Tagged): void {
    if (from !== this.upstream) return;
    this.responded = true;
    if (this.done) {
      up.resume();
      return;
    }
    up[EXCHANGE] = this;
    this.upstreamResponse = up;
    up.on('error', onResponseError);
    const headers = downstreamHeaders(up.rawHeaders);
    const cookie = this.sticky?.cookies.get(this.backend!.revision);
    if (cookie !== undefined) headers.push('Set-Cookie', cookie);
    this.res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
    setImmediate(flushLoneHead, this.res);
    up.on('data', onResponseData);
    up.on('end', onResponseEnd);
  }

  /** The backend went away in the middle of its response: the client sees its connection cut. */
  responseFailed(): void {
    this.failed = true;
    this.res.destroy();
  }

  error(up: ClientRequest, err: NodeJS.ErrnoException): void {
    if (this.done || up !== this.upstream) return;
    if (this.responded) {
      this.responseFailed();
      return;
    }
    const code = err.code ?? '';
    this.attemptFailed(err, up.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE'));
  }

  /**
   * An attempt failed before any of the response arrived. `stale`: it was a reused keep-alive connection
   * the backend had closed (it never read the request).
   */
  private attemptFailed(err: NodeJS.ErrnoException, stale: boolean): void {
    const b = this.backend!;
    const now = performance.now();
    this.backend = undefined;
    release(this.plane, b, false);
    if (this.target !== PREVIEW) this.table.counters(b.revision).observe(now - this.start, true);
    const code = err.code ?? '';
    const refused = CONNECT_FAILURES.has(code);
    if (refused) b.passiveUntil = now + this.plane.passiveUnhealthyMs;
    // Nothing of this request reached the backend: a refused connection, or a stale keep-alive socket.
    const unsent = !this.bodyStarted && (refused || stale);
    let retry = false;
    if (this.attempts < MAX_ATTEMPTS) {
      if (unsent) retry = true;
      else if (!this.bodyStarted && !this.retriedAfterSend && IDEMPOTENT.has(this.req.method ?? '')) {
        retry = true;
        this.retriedAfterSend = true;
      }
    }
    if (retry) {
      // A stale keep-alive socket says nothing about the backend; anything else does.
      if (!unsent || refused) {
        this.tried ??= [];
        this.tried.push(b);
      }
      const next = this.table.pickFor(this.target, now, this.tried);
      if (next !== undefined) {
        this.send(next, stale);
        return;
      }
    }
    reply(
      this.res,
      502,
      'upstream-failed',
      `baton: upstream failed for service ${this.table.service} (${code || err.message})\n`,
    );
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    const b = this.backend;
    if (b === undefined) return;
    // The client left before the whole response was written: stop the upstream request too.
    if (!this.res.writableFinished) {
      const up = this.upstream;
      if (up !== undefined && !up.destroyed) up.destroy();
      const s = this.raw;
      if (s !== undefined) {
        this.raw = undefined;
        b.raw.forget(s);
        s.destroy();
      }
    }
    release(this.plane, b, false);
    if (this.target === PREVIEW) return;
    this.table
      .counters(b.revision)
      .observe(performance.now() - this.start, this.failed || this.res.statusCode >= 500);
  }
}
