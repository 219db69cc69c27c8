import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { attemptFailed, MAX_ATTEMPTS, retryOn } from './attempt.js';
import type { BackendEntry } from './backend.js';
import { downstreamSocket, isH2, isH2Response } from './h2.js';
import { h2DownstreamHeaders, h2UpstreamHeaders } from './h2-headers.js';
import { downstreamHeaders, upstreamHeaders } from './headers.js';
import { type DataPlane, release } from './plane.js';
import type { ServiceTable } from './service.js';
import { PREVIEW, type SplitPlan } from './split.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const BODYLESS = new Set([204, 304]);
const LENGTH_MISMATCH = 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';

const EXCHANGE = Symbol('baton.exchange');
type Tagged = ServerResponse & { [EXCHANGE]?: Exchange };

function onClientClose(this: Tagged): void {
  this[EXCHANGE]!.close();
}
/**
 * Sends a response head that came without its body at once (node holds a head back until the first body
 * write), so a client of a long or streamed response knows it is answered, as with HAProxy. Run after the
 * reads that delivered the head: a head and body that came together still go out in one write.
 */
function flushLoneHead(x: Exchange): void {
  if (!x.wroteBody && !x.res.writableEnded && !x.res.destroyed) x.res.flushHeaders();
}

function onClientDrain(this: Tagged): void {
  this[EXCHANGE]!.resume?.();
}

/** Answers with a short text error from the proxy itself (or cuts the connection if it answered already). */
export function reply(res: ServerResponse, status: number, kind: string, body: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-baton-error': kind,
  };
  if (isH2Response(res)) {
    // HTTP/2 has neither reasons nor a Connection header; its stream ends with the answer.
    res.writeHead(status, headers);
    res.end(body);
    return;
  }
  if (close) headers.connection = 'close';
  // The reason is given: a failed writeHead may have left the backend's (invalid) one on `res`.
  res.writeHead(status, STATUS_CODES[status], headers);
  res.end(body);
}

/**
 * One client request and its upstream attempts, as an undici dispatch handler (its callback API: no
 * stream objects per request). A request is sent again only when nothing of it can have reached the
 * backend (the connection failed), or once when it is idempotent and sent no body.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  private backend: BackendEntry | undefined;
  /** Upstream request headers, built once for every attempt. */
  private readonly headers: string[] = [];
  private readonly hasBody: boolean;
  private readonly path: string;
  /** The client speaks HTTP/2 (its stream shares the connection with others). */
  private readonly h2: boolean;
  private abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  private bodyStarted = false;
  /** Some of the response body went to the client (its head with it). */
  wroteBody = false;
  private tooLarge = false;
  private responded = false;
  private failed = false;
  /** The instance's response ended (undici called onComplete). */
  private complete = false;
  private done = false;
  private attempts = 0;
  private retriedAfterSend = false;
  private tried: BackendEntry[] | undefined;

  constructor(
    private readonly table: ServiceTable,
    private readonly plane: DataPlane,
    private readonly req: IncomingMessage,
    readonly res: Tagged,
    private readonly start: number,
    /** `ANY`, `PREVIEW` or the revision chosen for the request (retries stay within it). */
    private readonly target: number,
    /** Set when the answer carries the sticky cookie of the revision that answers. */
    private readonly sticky: SplitPlan | undefined,
  ) {
    this.h2 = isH2(req);
    this.hasBody = this.h2 ? h2UpstreamHeaders(req, this.headers) : upstreamHeaders(req, this.headers);
    const url = req.url ?? '/';
    // An absolute-form target (its authority was checked against Host) goes on in origin form.
    this.path = url[0] === '/' || url === '*' ? url : originForm(url);
    res[EXCHANGE] = this;
    res.on('close', onClientClose);
  }

  send(b: BackendEntry): void {
    this.backend = b;
    this.attempts++;
    b.inFlight++;
    b.requests++;
    this.abort = undefined;
    const limits = this.table.limits;
    const upstream = this.h2
      ? b.upstreams.forH2(downstreamSocket(this.req))
      : b.upstreams.for(this.req.socket);
    upstream.dispatch(
      {
        method: this.req.method ?? 'GET',
        path: this.path,
        headers: this.headers,
        // undici takes any async iterable as a body (its types name only streams).
        body: this.hasBody ? (this.body(limits.maxBodyBytes) as unknown as Readable) : null,
        headersTimeout: limits.responseTimeoutMs,
        bodyTimeout: limits.responseTimeoutMs,
      },
      this,
    );
  }

  /** The client's body, read only once the upstream connection is up (so a refused one can go elsewhere). */
  private async *body(max: number): AsyncGenerator<Buffer> {
    this.bodyStarted = true;
    let n = 0;
    // Not destroyed when undici stops early: the client still gets an answer on its connection.
    for await (const chunk of this.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (max > 0 && n > max) {
        this.tooLarge = true;
        throw new Error(`request body larger than ${max} bytes`);
      }
      yield chunk;
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) abort();
    else this.abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.done) return true;
    if (status < 200) {
      this.interim(status, raw);
      return true;
    }
    const headers = this.h2
      ? h2DownstreamHeaders(raw, BODYLESS.has(status))
      : downstreamHeaders(raw, BODYLESS.has(status));
    const cookie = this.sticky?.cookies.get(this.backend!.revision);
    if (cookie !== undefined) headers.push('Set-Cookie', cookie);
    try {
      if (this.h2) this.res.writeHead(status, headers);
      else this.res.writeHead(status, statusText, headers);
    } catch (e) {
      // Node refuses to send it (a control character in the reason or a value): a malformed response.
      this.abort?.(Object.assign(e as Error, { code: 'UND_ERR_BAD_RESPONSE' }));
      return true;
    }
    this.responded = true;
    this.resume = resume;
    setImmediate(flushLoneHead, this);
    return true;
  }

  /** 1xx: forwarded to HTTP/1.1 clients (102 and 103; undici refuses an unasked 100). */
  private interim(status: number, raw: Buffer[]): void {
    if (this.req.httpVersionMinor < 1 || this.req.httpVersionMajor < 1) return;
    if (status === 102) this.res.writeProcessing();
    if (status !== 103) return;
    const hints: Record<string, string | string[]> = {};
    const headers = downstreamHeaders(raw);
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!.toLowerCase();
      const prev = hints[name];
      hints[name] = prev === undefined ? headers[i + 1]! : [prev, headers[i + 1]!].flat();
    }
    try {
      this.res.writeEarlyHints(hints);
    } catch {
      // A hint node will not write is dropped; the final response still comes.
    }
  }

  onData(chunk: Buffer): boolean {
    this.wroteBody = true;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', onClientDrain);
    return false;
  }

  onComplete(): void {
    this.complete = true;
    this.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    try {
      if (!this.responded) this.attemptFailed(err as NodeJS.ErrnoException);
      else if (BODYLESS.has(this.res.statusCode) && (err as NodeJS.ErrnoException).code === LENGTH_MISMATCH) {
        // undici holds a 204/304's Content-Length against its (absent) body; the answer was complete.
        this.res.end();
      } else {
        // The backend went away in the middle of its response: the client sees its connection cut.
        this.plane.cut(this.table.service, this.backend!, (err as NodeJS.ErrnoException).code ?? err.message);
        this.failed = true;
        this.res.destroy();
      }
    } catch (e) {
      // Nothing here may throw into undici (it would reach the worker): this request alone fails.
      this.failed = true;
      this.res.destroy(e as Error);
    }
  }

  /** An attempt failed before any of the response was sent on. */
  private attemptFailed(err: NodeJS.ErrnoException): void {
    const b = this.backend!;
    this.backend = undefined;
    const code = err.code ?? '';
    const failed = attemptFailed(this.plane, this.table, this.target, b, this.start, code);
    const { refused } = failed;
    let retry = false;
    if (this.attempts < MAX_ATTEMPTS && !this.bodyStarted && !TIMEOUTS.has(code)) {
      if (refused) retry = true;
      else if (!this.retriedAfterSend && IDEMPOTENT.has(this.req.method ?? '')) {
        retry = true;
        this.retriedAfterSend = true;
      }
    }
    if (retry) {
      this.tried ??= [];
      const next = retryOn(this.table, this.target, this.tried, b, failed);
      if (next !== undefined) {
        this.send(next);
        return;
      }
    }
    const service = this.table.service;
    if (this.tooLarge) reply(this.res, 413, 'body-too-large', `baton: ${err.message}\n`, true);
    else if (TIMEOUTS.has(code))
      reply(this.res, 504, 'upstream-timeout', `baton: upstream timed out for service ${service}\n`);
    else if (code === 'UND_ERR_INVALID_ARG') reply(this.res, 400, 'bad-request', `baton: ${err.message}\n`);
    else if (refused)
      reply(
        this.res,
        503,
        'upstream-unavailable',
        `baton: upstream unavailable for service ${service} (${code})\n`,
      );
    else
      reply(
        this.res,
        502,
        'upstream-failed',
        `baton: upstream failed for service ${service} (${code || err.message})\n`,
      );
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    const b = this.backend;
    if (b === undefined) return;
    // The client left before the instance answered in full: stop the upstream request too. (Not judged by
    // the client side: an HTTP/2 stream the client resets is ended, and so "finished", before it closes.)
    if (!this.complete) this.abort?.();
    release(this.plane, b, false);
    if (this.target === PREVIEW) return;
    const status = this.responded ? this.res.statusCode : 0;
    this.table
      .counters(b.revision)
      .observe(performance.now() - this.start, this.failed || this.res.statusCode >= 500, status);
  }
}

function originForm(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}
