import type { ClientRequest, IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A backend's keep-alive connections, handed to `http.request` as its `agent`. It does what the proxy
 * needs of node's `http.Agent` and nothing more (one backend, one host:port, no queue, no per-request
 * name lookups or socket bookkeeping by name): a request takes the most recently freed idle socket (LIFO,
 * so surplus sockets age out) or opens a new one; a socket whose response ended is kept idle unless the
 * request or response said `close`. Idle sockets are closed after `idleMs`, or earlier when the backend
 * announces a shorter `Keep-Alive: timeout=N` (then N − 1 s), so a socket the backend is about to close
 * is not reused.
 */
export class UpstreamPool {
  /** Read by `ClientRequest`: keep-alive requests, protocol check. */
  readonly keepAlive = true;
  readonly maxSockets = Number.POSITIVE_INFINITY;
  readonly protocol = 'http:';
  readonly defaultPort = 80;
  private readonly idle: Socket[] = [];
  private readonly all = new Set<Socket>();
  private closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly idleMs: number,
  ) {}

  /** Called by `ClientRequest`. */
  addRequest(req: ClientRequest & { reusedSocket: boolean }): void {
    let s = this.idle.pop();
    while (s?.destroyed) s = this.idle.pop();
    if (s !== undefined) {
      s.removeListener('error', onIdleError);
      s.setTimeout(0);
      s.ref();
      req.reusedSocket = true;
      req.onSocket(s);
      return;
    }
    s = connect({ host: this.host, port: this.port, noDelay: true }) as Pooled;
    (s as Pooled)[POOL] = this;
    this.all.add(s);
    s.on('free', onFree);
    s.on('close', onClose);
    s.on('timeout', onIdleTimeout);
    s.on('agentRemove', onClose);
    if (this.closed) s.destroy();
    req.onSocket(s);
  }

  /** A request's response ended: keep the socket for the next request, or close it. */
  free(s: Pooled): void {
    const req = (s as Pooled & { _httpMessage: (ClientRequest & { shouldKeepAlive: boolean }) | null })
      ._httpMessage;
    if (this.closed || !s.writable || s.destroyed || req === null || !req.shouldKeepAlive) {
      s.destroy();
      return;
    }
    let timeout = this.idleMs;
    const hint = keepAliveHint((req as ClientRequest & { res?: IncomingMessage }).res);
    if (hint !== undefined && hint < timeout) timeout = hint;
    (s as Pooled & { _httpMessage: unknown })._httpMessage = null;
    s.once('error', onIdleError);
    s.setTimeout(timeout);
    s.unref();
    this.idle.push(s);
  }

  forget(s: Socket): void {
    this.all.delete(s);
    const i = this.idle.lastIndexOf(s);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes every connection, idle or busy; later requests fail (the backend was removed). */
  destroy(): void {
    this.closed = true;
    for (const s of this.all) s.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}

const POOL = Symbol('baton.pool');
type Pooled = Socket & { [POOL]: UpstreamPool };

function onFree(this: Pooled): void {
  this[POOL].free(this);
}
function onClose(this: Pooled): void {
  this[POOL].forget(this);
}
/** The socket timeout is only armed while the socket is idle. */
function onIdleTimeout(this: Pooled): void {
  this.destroy();
}
function onIdleError(this: Pooled): void {
  this.destroy();
}

/** `Keep-Alive: timeout=N` of the response, as N − 1 s in ms. */
function keepAliveHint(res: IncomingMessage | undefined): number | undefined {
  if (res === undefined) return undefined;
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'keep-alive') continue;
    const m = /timeout=(\d+)/.exec(raw[i + 1]!);
    if (m) return Number(m[1]) * 1000 - 1000;
  }
  return undefined;
}

/** What a raw upstream socket reports to while it carries a request. */
export interface RawOwner {
  rawData(s: Socket, chunk: Buffer): void;
  rawEnd(s: Socket): void;
  rawError(s: Socket, err: NodeJS.ErrnoException): void;
}

const OWNER = Symbol('baton.owner');
const RAW_POOL = Symbol('baton.rawPool');
const IDLE_UNTIL = Symbol('baton.idleUntil');
type Raw = Socket & { [OWNER]: RawOwner | undefined; [RAW_POOL]: RawPool; [IDLE_UNTIL]: number };
/** How often idle connections are checked for expiry; they are closed up to this much early. */
const SWEEP_MS = 250;

/**
 * Keep-alive connections for the raw path (requests without a body, written and read by the proxy
 * itself, see `forward.ts`). Each socket gets its listeners once, when opened, and passes events to the
 * request it carries; an idle socket that hears anything from the backend is closed. Idle expiry is one
 * sweep every 250 ms per pool rather than a socket timer re-armed around every request.
 */
export class RawPool {
  private readonly idle: Raw[] = [];
  private readonly all = new Set<Raw>();
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly idleMs: number,
  ) {}

  /** An idle connection (most recently used first) for `owner`, or undefined. */
  take(owner: RawOwner): Socket | undefined {
    let s = this.idle.pop();
    while (s?.destroyed) s = this.idle.pop();
    if (s === undefined) return undefined;
    s[OWNER] = owner;
    return s;
  }

  /** A new connection for `owner` (writes before it connects are queued by net). */
  open(owner: RawOwner): Socket {
    const s = connect({ host: this.host, port: this.port, noDelay: true }) as Raw;
    s[OWNER] = owner;
    s[RAW_POOL] = this;
    this.all.add(s);
    s.on('data', onRawData);
    s.on('end', onRawEnd);
    s.on('error', onRawError);
    s.on('close', onRawClose);
    if (this.closed) s.destroy();
    return s;
  }

  /** The response was read in full: keep the connection for the next request (`keepMs` hint). */
  put(socket: Socket, keepMs: number | undefined): void {
    const s = socket as Raw;
    s[OWNER] = undefined;
    if (this.closed || s.destroyed || !s.writable) {
      s.destroy();
      return;
    }
    s[IDLE_UNTIL] =
      Date.now() + (keepMs !== undefined && keepMs < this.idleMs ? keepMs : this.idleMs) - SWEEP_MS;
    this.idle.push(s);
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** Closes the connections idle past their time. */
  private sweep(): void {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const s = this.idle[i]!;
      if (s[IDLE_UNTIL] <= now) {
        this.idle.splice(i, 1);
        s.destroy();
      }
    }
    if (this.idle.length === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Drops a connection (it is destroyed, or about to be). */
  forget(s: Socket): void {
    (s as Raw)[OWNER] = undefined;
    this.all.delete(s as Raw);
    const i = this.idle.lastIndexOf(s as Raw);
    if (i >= 0) this.idle.splice(i, 1);
  }

  destroy(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const s of this.all) s.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}

function onRawData(this: Raw, chunk: Buffer): void {
  const owner = this[OWNER];
  if (owner) owner.rawData(this, chunk);
  else this.destroy();
}
function onRawEnd(this: Raw): void {
  const owner = this[OWNER];
  if (owner) owner.rawEnd(this);
  else this.destroy();
}
function onRawError(this: Raw, err: NodeJS.ErrnoException): void {
  const owner = this[OWNER];
  this[RAW_POOL].forget(this);
  this.destroy();
  owner?.rawError(this, err);
}
function onRawClose(this: Raw): void {
  const owner = this[OWNER];
  this[RAW_POOL].forget(this);
  if (owner) {
    const err = new Error('upstream connection closed') as NodeJS.ErrnoException;
    err.code = 'ECONNRESET';
    owner.rawError(this, err);
  }
}
