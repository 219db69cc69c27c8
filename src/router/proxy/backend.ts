import type { Socket } from 'node:net';
import { type Backend, BackendState, type BackendStatus } from '../router.js';
import { parseListen } from './paths.js';
import { RawPool, UpstreamPool } from './pool.js';

/**
 * Idle upstream sockets are closed after this long, or earlier when the backend announces a shorter
 * `Keep-Alive: timeout=N` (then N - 1 s), so we never reuse a socket the backend is about to close.
 */
export const UPSTREAM_IDLE_MS = 4000;

/** One backend of a service, with its keep-alive pool and live counters. */
export class BackendEntry {
  readonly id: string;
  address: string;
  host: string;
  port: number;
  revision: number;
  weight: number;
  state: BackendState = BackendState.Active;
  /** Health reported by the control plane. */
  healthy = true;
  /** performance.now() until which a connection failure keeps the backend out (passive health); 0 = none. */
  passiveUntil = 0;
  inFlight = 0;
  websockets = 0;
  requests = 0;
  /** Smooth weighted round-robin state, used to break ties between equally loaded backends. */
  current = 0;
  /** Connections for requests with a body (`http.request`). */
  pool: UpstreamPool;
  /** Connections for the raw path (requests without a body). */
  raw: RawPool;
  /** Upstream sockets of open WebSocket tunnels, destroyed when the backend is removed. */
  readonly tunnels = new Set<Socket>();

  constructor(b: Backend) {
    this.id = b.id;
    const a = parseListen(b.address);
    if (!a) throw new Error(`bad address ${b.address}`);
    this.address = b.address;
    this.host = a.host;
    this.port = a.port;
    this.revision = b.revision;
    this.weight = b.weight ?? 1;
    this.pool = new UpstreamPool(this.host, this.port, UPSTREAM_IDLE_MS);
    this.raw = new RawPool(this.host, this.port, UPSTREAM_IDLE_MS);
  }

  /** Applies a repeated add: same id, maybe a new address, revision or weight. */
  update(b: Backend): void {
    if (b.address !== this.address) {
      const a = parseListen(b.address);
      if (!a) throw new Error(`bad address ${b.address}`);
      this.pool.destroy();
      this.raw.destroy();
      this.address = b.address;
      this.host = a.host;
      this.port = a.port;
      this.pool = new UpstreamPool(this.host, this.port, UPSTREAM_IDLE_MS);
      this.raw = new RawPool(this.host, this.port, UPSTREAM_IDLE_MS);
    }
    this.revision = b.revision;
    this.weight = b.weight ?? 1;
  }

  isHealthy(now: number): boolean {
    return this.healthy && (this.passiveUntil === 0 || this.passiveUntil <= now);
  }

  /** Requests plus WebSockets still open. */
  open(): number {
    return this.inFlight + this.websockets;
  }

  /** Closes the pool and every open connection to the backend. */
  close(): void {
    this.pool.destroy();
    this.raw.destroy();
    for (const s of this.tunnels) s.destroy();
    this.tunnels.clear();
  }

  status(now: number): BackendStatus {
    return {
      id: this.id,
      address: this.address,
      revision: this.revision,
      weight: this.weight,
      state: this.state,
      healthy: this.isHealthy(now),
      inFlight: this.inFlight,
      websockets: this.websockets,
      requests: this.requests,
    };
  }
}
