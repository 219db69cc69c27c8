import type { RouterSpec } from '../spec/router.js';

/** Lifecycle of a backend inside a router (kamal-proxy's target states). */
export const BackendState = {
  /** Receives new requests (when healthy). */
  Active: 'active',
  /** Receives no new requests; in-flight ones and open WebSockets finish. */
  Draining: 'draining',
  /**
   * Receives no production traffic but answers on the route's preview listener (blue-green: the new
   * set before promotion). `switchTo` makes it active.
   */
  Standby: 'standby',
} as const;
export type BackendState = (typeof BackendState)[keyof typeof BackendState];

export interface Backend {
  id: string;
  /** host:port */
  address: string;
  revision: number;
  /** Relative weight among active backends (default 1). */
  weight?: number;
}

export interface BackendStatus extends Required<Backend> {
  state: BackendState;
  healthy: boolean;
  inFlight: number;
  websockets: number;
  requests: number;
}

export interface RevisionStats {
  revision: number;
  requests: number;
  /** 5xx answers plus upstream connection failures. */
  errors: number;
  /** Latency histogram: upper bounds in ms and counts (cumulative = false); `sumMs` their sum (embedded proxy). */
  latency: { bounds: number[]; counts: number[]; sumMs?: number | undefined };
  /** Embedded proxy: attempts by answer status class, index 0 none (the attempt failed), 1–5 1xx–5xx. */
  classes?: number[] | undefined;
  /** Embedded proxy: attempts that could not connect, and requests sent again to another backend. */
  connectErrors?: number | undefined;
  retries?: number | undefined;
}

/** Embedded proxy: connections of one listener of a route (`main` takes production traffic). */
export interface ListenerStats {
  role: 'main' | 'preview';
  address: string;
  accepted: number;
  open: number;
  tls?: boolean | undefined;
  /** TLS listeners: handshakes completed and failed. */
  handshakes?: number | undefined;
  handshakeErrors?: number | undefined;
}

export interface RouteConfig {
  service: string;
  /** host:port the router listens on for this service. */
  listen: string;
  drainTimeoutMs: number;
  /**
   * Embedded proxy: idle timeout of client keep-alive connections (announced in `Keep-Alive: timeout=N`).
   * Absent: the proxy's default (`DEFAULTS.keepAliveTimeout`). Other routers take it from their own config.
   */
  keepAliveTimeoutMs?: number | undefined;
  /**
   * host:port of a second listener that sends every request to the backends of the preview revision
   * (`setPreview`), whatever their state: testers reach a blue-green set before it takes traffic.
   */
  preview?: string | undefined;
  /**
   * Which load balancer and its settings (`traffic.router` of the spec). `MultiRouter` picks the driver
   * from it; a driver reads its own settings (e.g. HAProxy's backend name). Absent: the embedded proxy.
   */
  router?: RouterSpec | undefined;
  /** Edge limits and upstream timeouts (`traffic.timeouts`, `traffic.maxBodySize`); absent: the defaults. */
  limits?: Partial<RouteLimits> | undefined;
  /**
   * Embedded proxy, shared listeners: the names this service answers on `listen` (lower case,
   * `*.example.com` for one more label). Absent or empty: the listener's default service.
   */
  hosts?: string[] | undefined;
  /** Embedded proxy: only requests under this path prefix (segment-wise; absent: every path). */
  pathPrefix?: string | undefined;
  /**
   * Embedded proxy: TLS on `listen` with these PEM file pairs (SNI picks the one naming the host).
   * `auto`: the files ACME keeps per host (`autoCertFiles`), resolved by the proxy driver.
   */
  tls?: RouteTls[] | 'auto' | undefined;
  /** With `tls`: plain HTTP for the service's hosts on the proxy's HTTP listener gets a 308 to https. */
  redirectHttp?: boolean | undefined;
  /**
   * Embedded proxy: the protocol spoken to the instances, `http1` (absent: HTTP/1.1) or `h2c` (HTTP/2 in
   * clear text, for gRPC: trailers and streaming both ways).
   */
  upstream?: UpstreamProtocol | undefined;
}

/** How the embedded proxy speaks to a service's instances (`traffic.upstream`). */
export type UpstreamProtocol = 'http1' | 'h2c';

/** Certificate (chain allowed) and key files, PEM. */
export interface RouteTls {
  cert: string;
  key: string;
}

/** The embedded proxy's limits for one service (defaults: `ROUTE_LIMIT_DEFAULTS` in proxy/limits.ts). */
export interface RouteLimits {
  /** A client's request head must arrive within this (then 408). */
  headTimeoutMs: number;
  /** Connecting to a backend (then the next backend, or 503). */
  connectTimeoutMs: number;
  /** Waiting for the response head, and between two reads of a body (then 504, or the connection cut). */
  responseTimeoutMs: number;
  /** Largest request body in bytes (then 413); 0: no limit. */
  maxBodyBytes: number;
}

/**
 * How new requests are split between revisions (canary). Within a revision, backends are chosen as
 * usual (active, healthy, least in flight). With no split, all active backends share the traffic.
 */
export interface RevisionSplit {
  /** Percent of new requests per revision (integers 0–100 summing to 100). */
  weights: Array<{ revision: number; percent: number }>;
  /**
   * Named revisions for forced routing: a request with header `X-Baton-Revision: canary|stable|<n>` or
   * cookie `baton-revision=canary|stable|<n>` goes to that revision regardless of weights.
   */
  canary?: number | undefined;
  stable?: number | undefined;
  /**
   * A client keeps the revision it was first given while the split lasts: the first answer sets cookie
   * `baton-sticky-<service>=<revision>`, and later requests carrying it go to that revision while it has
   * weight > 0 and a healthy active backend.
   */
  sticky: boolean;
}

/** What the route does with new requests besides proxying them. */
export type RouteMode =
  | { kind: 'serve' }
  /** Every request gets a 503 with this body (default: a short maintenance page). */
  | { kind: 'maintenance'; body?: string | undefined }
  /**
   * New requests wait (none is lost) until the mode changes back to `serve`, then go through; a request
   * held longer than `maxMs` gets a 503. In-flight requests are unaffected.
   */
  | { kind: 'hold'; maxMs: number };

export interface RouteStatus {
  service: string;
  listen: string;
  preview?: string | undefined;
  previewRevision?: number | null | undefined;
  split?: RevisionSplit | null | undefined;
  mode?: RouteMode | undefined;
  /** Requests waiting in `hold` mode. */
  held?: number | undefined;
  backends: BackendStatus[];
  revisions: RevisionStats[];
  /** Embedded proxy: connections per listener. */
  listeners?: ListenerStats[] | undefined;
  /** Embedded proxy, TLS: the certificates it serves for this route (as loaded from their files). */
  certificates?: CertificateStats[] | undefined;
}

export interface CertificateStats {
  file: string;
  /** The names it covers (subject alternative names). */
  names: string[];
  /** ISO time its validity ends. */
  notAfter: string;
}

export interface DrainResult {
  drained: boolean;
  /** Requests and WebSockets still open when the wait ended. */
  inFlight: number;
  waitedMs: number;
}

/**
 * Carries traffic to instances. Implementations: `proxy` (embedded, default), `fake` (tests); later
 * `haproxy`, `oci-lb`, `alb`. Every call is idempotent so a resumed step can repeat it.
 */
export interface Router {
  readonly kind: string;
  /** Creates or updates the listener for a service. Keeps its backends. */
  ensureRoute(route: RouteConfig): Promise<void>;
  /** Stops listening for a service and forgets its backends. */
  removeRoute(service: string): Promise<void>;
  /**
   * Adds backends as active, or makes existing (draining, standby) ones active again. With
   * `{standby: true}` they are added (or put back) in standby: reachable only on the preview listener.
   */
  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void>;
  /**
   * Atomically: exactly these backends are active, every other backend of the service starts draining.
   * Backends in `add` are added (or updated) in the same update, so a new set takes traffic only at the switch.
   */
  switchTo(service: string, ids: string[], add?: Backend[]): Promise<void>;
  /** No new requests to these backends. */
  drain(service: string, ids: string[]): Promise<void>;
  /** Resolves when the backends have no in-flight request or WebSocket, or when `timeoutMs` passes. */
  waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult>;
  /** Forgets backends; open connections to them are closed. Call after draining. */
  removeBackends(service: string, ids: string[]): Promise<void>;
  /** Passive health from the control plane's probes: unhealthy backends get no new requests. */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void>;
  /** Splits new requests between revisions (null: no split). Takes effect for the next request. */
  setSplit(service: string, split: RevisionSplit | null): Promise<void>;
  /** Which revision the preview listener serves (null: none, it answers 503). */
  setPreview(service: string, revision: number | null): Promise<void>;
  /** Maintenance page, request hold, or normal serving. Leaving `hold` releases the held requests. */
  setMode(service: string, mode: RouteMode): Promise<void>;
  status(service: string): Promise<RouteStatus | undefined>;
  /**
   * Re-applies Baton's state where the load balancer lost it (an HAProxy reload drops the servers added
   * at runtime). The supervisor calls it every tick; the driver decides how often it really looks.
   * Never throws: problems are logged or reported.
   */
  reconcile?(): Promise<unknown>;
  close(): Promise<void>;
}
