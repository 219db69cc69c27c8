import type { Socket } from 'node:net';
import { type Backend, BackendState, type BackendStatus, type RouteLimits } from '../router.js';
import { H2cUpstream } from './h2c-upstream.js';
import { parseListen } from './paths.js';
import { Upstreams } from './upstream.js';

/** One backend of a service, with its upstream connections and live counters. */
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
  upstreams: Upstreams;
  /** The HTTP/2 clear-text session (services with `upstream: h2c`), made on first use. */
  private h2cUpstream: H2cUpstream | undefined;
  /** Upstream sockets of open WebSocket tunnels, destroyed when the backend is removed. */
  readonly tunnels = new Set<Socket>();

  constructor(
    b: Backend,
    private readonly limits: () => RouteLimits,
  ) {
    this.id = b.id;
    const a = parseListen(b.address);
    if (!a) throw new Error(`bad address ${b.address}`);
    this.address = b.address;
    this.host = a.host;
    this.port = a.port;
    this.revision = b.revision;
    this.weight = b.weight ?? 1;
    this.upstreams = new Upstreams(origin(a.host, a.port), limits);
  }

  /** Applies a repeated add: same id, maybe a new address, revision or weight. */
  update(b: Backend): void {
    if (b.address !== this.address) {
      const a = parseListen(b.address);
      if (!a) throw new Error(`bad address ${b.address}`);
      this.upstreams.destroy();
      this.h2cUpstream?.destroy();
      this.h2cUpstream = undefined;
      this.address = b.address;
      this.host = a.host;
      this.port = a.port;
      this.upstreams = new Upstreams(origin(a.host, a.port), this.limits);
    }
    this.revision = b.revision;
    this.weight = b.weight ?? 1;
  }

  h2c(): H2cUpstream {
    this.h2cUpstream ??= new H2cUpstream(origin(this.host, this.port), this.limits);
    return this.h2cUpstream;
  }

  isHealthy(now: number): boolean {
    return this.healthy && (this.passiveUntil === 0 || this.passiveUntil <= now);
  }

  /** Requests plus WebSockets still open. */
  open(): number {
    return this.inFlight + this.websockets;
  }

  /** Closes every open connection to the backend. */
  close(): void {
    this.upstreams.destroy();
    this.h2cUpstream?.destroy();
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

function origin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
