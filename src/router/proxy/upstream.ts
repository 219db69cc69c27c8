import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { buildConnector, Client, type Dispatcher, errors, Pool } from 'undici';
import type { RouteLimits } from '../router.js';

/**
 * Idle upstream connections are closed after this long, or earlier when the backend announces a shorter
 * `Keep-Alive: timeout=N` (undici then keeps them N - 2 s), so a connection the backend is about to
 * close is not reused.
 */
export const UPSTREAM_IDLE_MS = 4000;

/**
 * The reason given to an upstream connection closed with its client connection: made once, as a new
 * error per connection costs a stack trace that node's stream destroy formats (about 5 % of a worker's
 * time with a new client connection per request). Same class and code as undici's own.
 */
const DROPPED = new errors.ClientDestroyedError();

const CLIENTS = Symbol('baton.upstreams');
type Downstream = Socket & { [CLIENTS]?: Map<Upstreams, Client | Pool> };

/**
 * A backend's upstream connections. HTTP/1.1 is spoken by undici (llhttp): it never reuses a connection
 * after `Connection: close`, an HTTP/1.0 answer, a HEAD, a mismatched length or bytes nobody asked for.
 *
 * Each client connection gets its own upstream connection (HAProxy's "private" reuse): a backend that
 * writes a late or extra response can only confuse the client whose connection it was, never give one
 * client's page to another. Keep-alive clients reuse theirs; the cost is a new upstream connection per
 * new client connection.
 */
export class Upstreams {
  private readonly open = new Set<Client>();
  /** The connections of each HTTP/2 client's pool (forgotten with it). */
  private readonly pools = new Map<Pool, Set<Client>>();
  private closed = false;
  /** Parsed once: undici parses a string origin again for every connection. */
  private readonly origin: URL;
  /** The options of the route's current limits (a new object when they change). */
  private made: { limits: RouteLimits; options: Client.Options } | undefined;

  constructor(
    origin: string,
    private readonly limits: () => RouteLimits,
  ) {
    this.origin = new URL(origin);
  }

  /** The upstream connection bound to this client connection (made on first use). */
  for(downstream: Socket): Client {
    const d = downstream as Downstream;
    let map = d[CLIENTS];
    let c = map?.get(this) as Client | undefined;
    if (c !== undefined && !c.destroyed) return c;
    c = this.client();
    if (map === undefined) {
      map = new Map();
      d[CLIENTS] = map;
      d.once('close', onDownstreamClose);
    }
    map.set(this, c);
    return c;
  }

  /**
   * The upstream connections bound to one HTTP/2 client connection: a pool, as its streams run at once
   * (one HTTP/1.1 connection each while they do, reused after), still private to that client connection.
   * The client's concurrent-stream limit bounds its size.
   */
  forH2(downstream: Socket): Dispatcher {
    const d = downstream as Downstream;
    let map = d[CLIENTS];
    let p = map?.get(this) as Pool | undefined;
    if (p !== undefined && !p.destroyed) return p;
    const members = new Set<Client>();
    p = new Pool(this.origin, {
      ...this.options(),
      factory: (origin, opts) => {
        const c = this.track(new Client(origin, opts));
        members.add(c);
        return c;
      },
    });
    this.pools.set(p, members);
    (p as unknown as EventEmitter).on('error', () => {});
    if (map === undefined) {
      map = new Map();
      d[CLIENTS] = map;
      d.once('close', onDownstreamClose);
    }
    map.set(this, p);
    return p;
  }

  /** A connection used once (WebSocket upgrades: it becomes the tunnel). */
  client(): Client {
    return this.track(new Client(this.origin, this.options()));
  }

  /**
   * One options object and one connector for all of this backend's connections (undici builds a connector,
   * with its TLS session cache, for each client not given one); made again when the route's limits change.
   */
  private options(): Client.Options {
    const l = this.limits();
    if (this.made?.limits === l) return this.made.options;
    const options: Client.Options = {
      connect: buildConnector({ timeout: l.connectTimeoutMs }),
      headersTimeout: l.responseTimeoutMs,
      bodyTimeout: l.responseTimeoutMs,
      keepAliveTimeout: UPSTREAM_IDLE_MS,
      keepAliveMaxTimeout: UPSTREAM_IDLE_MS,
      pipelining: 1,
      strictContentLength: true,
    };
    this.made = { limits: l, options };
    return options;
  }

  private track(c: Client): Client {
    // Request errors reach the exchange's handler; nothing is thrown at the worker.
    (c as unknown as EventEmitter).on('error', () => {});
    if (this.closed) void c.destroy().catch(() => {});
    else this.open.add(c);
    return c;
  }

  /** Forgets a client (or an HTTP/2 client's pool) whose downstream went away. */
  drop(c: Client | Pool): void {
    if (c instanceof Pool) {
      for (const m of this.pools.get(c) ?? []) this.open.delete(m);
      this.pools.delete(c);
      void c.destroy(DROPPED).catch(() => {});
      return;
    }
    this.open.delete(c);
    void c.destroy(DROPPED).catch(() => {});
  }

  /** Closes every connection, busy or idle; later requests get fresh clients that fail at once. */
  destroy(): void {
    this.closed = true;
    for (const c of this.open) void c.destroy().catch(() => {});
    this.open.clear();
    this.pools.clear();
  }
}

function onDownstreamClose(this: Downstream): void {
  const map = this[CLIENTS];
  if (map === undefined) return;
  this[CLIENTS] = undefined;
  for (const [u, c] of map) u.drop(c);
}
