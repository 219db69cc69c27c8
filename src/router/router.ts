/** Lifecycle of a backend inside a router (kamal-proxy's target states). */
export const BackendState = {
  /** Receives new requests (when healthy). */
  Active: 'active',
  /** Receives no new requests; in-flight ones and open WebSockets finish. */
  Draining: 'draining',
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
  /** Latency histogram: upper bounds in ms and counts (cumulative = false). */
  latency: { bounds: number[]; counts: number[] };
}

export interface RouteConfig {
  service: string;
  /** host:port the router listens on for this service. */
  listen: string;
  drainTimeoutMs: number;
}

export interface RouteStatus {
  service: string;
  listen: string;
  backends: BackendStatus[];
  revisions: RevisionStats[];
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
  /** Adds backends as active, or makes existing (draining) ones active again. */
  addBackends(service: string, backends: Backend[]): Promise<void>;
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
  status(service: string): Promise<RouteStatus | undefined>;
  close(): Promise<void>;
}
