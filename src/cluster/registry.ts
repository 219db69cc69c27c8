import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { InputError } from '../core/errors.js';
import { checkToken } from '../store/check.js';
import { type RetryOptions, withRetry } from '../store/nats/errors.js';
import { type ServiceQuery, ServiceWatch } from './registry-watch.js';

/** One instance's listening port, as Hoist's `register_ports` publishes it, plus Baton's revision. */
export interface Registration {
  cluster: string;
  service: string;
  protocol: string;
  /** The instance this port belongs to: the last token of its key, so one instance is one entry. */
  instance: string;
  address: string;
  port: number;
  priority: number;
  annotations: Record<string, string>;
  revision: number;
}

export interface RegistryOptions {
  /** KV bucket (default `baton-services`). */
  bucket?: string;
  /** How long an entry lives unless refreshed: the bucket's max age (default 60 s). */
  ttlMs?: number;
  /** Replicas when this creates the bucket: 1 for one server, 3 on a cluster. */
  replicas?: number;
}

export interface Refresher {
  /** What it keeps registered. */
  readonly registration: Registration;
  /** The last refresh that failed, if the latest one did (cleared by the next success). */
  readonly lastError: Error | undefined;
  /** Stops refreshing; with `deregister`, also deletes the entry instead of letting it expire. */
  stop(opts?: { deregister?: boolean }): Promise<void>;
}

/**
 * A registry write rides through a NATS failover: the bucket's stream elects a new leader, which takes a
 * few seconds on a quiet host and more than 10 on a loaded one (seen in CI: 10 s was not enough).
 */
const RETRY: RetryOptions = { deadlineMs: 30_000 };

/**
 * Service registration in a KV bucket whose entries expire: nats-server 2.9 has no per-key TTL, so the
 * bucket's max age is the TTL and a live instance re-writes its entry well within it (`keepAlive`, every
 * quarter of the TTL, as Hoist writes every 15 s into a 1 min bucket). An agent that dies stops writing
 * and its entries age out. Keys are `<cluster>.<protocol>.<service>.<instance>`.
 */
export class Registry {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  static async open(nc: NatsConnection, opts: RegistryOptions = {}): Promise<Registry> {
    const bucket = opts.bucket ?? 'baton-services';
    const ttlMs = opts.ttlMs ?? 60_000;
    if (!(ttlMs >= 1000)) throw new InputError(`registration ttl must be at least 1 s, not ${ttlMs} ms`);
    const kv = await withRetry(`open registry ${bucket}`, RETRY, () =>
      new Kvm(jetstream(nc)).create(bucket, {
        history: 1,
        ttl: ttlMs,
        replicas: opts.replicas ?? 1,
        allow_direct: false,
      }),
    );
    // An existing bucket keeps its own max age: watchers must expire entries by that one.
    const status = await withRetry(`read registry ${bucket}`, RETRY, () => kv.status());
    return new Registry(nc, kv, status.ttl || ttlMs);
  }

  /** Writes (or refreshes) the registration; its TTL starts again. */
  async register(reg: Registration): Promise<void> {
    const key = keyOf(reg);
    await withRetry(`register ${key}`, RETRY, () => this.kv.put(key, JSON.stringify(reg)));
  }

  async deregister(reg: Pick<Registration, 'cluster' | 'protocol' | 'service' | 'instance'>): Promise<void> {
    const key = keyOf(reg);
    await withRetry(`deregister ${key}`, RETRY, () => this.kv.delete(key));
  }

  /** Registers now, then again every `everyMs` (default a quarter of the TTL) until stopped. */
  async keepAlive(reg: Registration, opts: { everyMs?: number } = {}): Promise<Refresher> {
    const everyMs = opts.everyMs ?? Math.max(250, Math.floor(this.ttlMs / 4));
    await this.register(reg);
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let inFlight: Promise<void> = Promise.resolve();
    const refresher = {
      registration: reg,
      lastError: undefined as Error | undefined,
      stop: async (o: { deregister?: boolean } = {}) => {
        stopped = true;
        clearTimeout(timer);
        await inFlight;
        if (o.deregister) await this.deregister(reg);
      },
    };
    const tick = () => {
      inFlight = this.register(reg).then(
        () => {
          refresher.lastError = undefined;
        },
        (e: unknown) => {
          // Keep trying: the entry outlives a short outage, and the next write restarts its TTL.
          refresher.lastError = e instanceof Error ? e : new Error(String(e));
        },
      );
      // After a failure (a server failover, a stream electing its leader) the next attempt comes soon:
      // waiting a whole period after a write that already retried for seconds could let the entry age out.
      void inFlight.then(() => {
        if (!stopped) timer = setTimeout(tick, refresher.lastError ? Math.min(everyMs, 500) : everyMs);
      });
    };
    timer = setTimeout(tick, everyMs);
    return refresher;
  }

  /** The live registrations of a service, kept current from a KV watch (see ServiceWatch). */
  async watch(query: ServiceQuery): Promise<ServiceWatch> {
    for (const [what, v] of Object.entries(query)) if (v !== undefined) checkToken(v, what);
    return ServiceWatch.start(this.nc, this.kv, query, this.ttlMs);
  }
}

function keyOf(reg: Pick<Registration, 'cluster' | 'protocol' | 'service' | 'instance'>): string {
  checkToken(reg.cluster, 'cluster');
  checkToken(reg.protocol, 'protocol');
  checkToken(reg.service, 'service');
  checkToken(reg.instance, 'instance');
  return `${reg.cluster}.${reg.protocol}.${reg.service}.${reg.instance}`;
}
