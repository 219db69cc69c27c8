import type { Logger } from 'pino';
import type { Registry } from '../cluster/registry.js';
import type { ServiceWatch } from '../cluster/registry-watch.js';
import { ensureProxy } from '../router/proxy/launch.js';
import type { Router } from '../router/router.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { DrainReply, DrainRequest } from './control.js';
import { diffBackends } from './follower-diff.js';

interface Followed {
  watch: ServiceWatch;
  query: { cluster: string; service: string };
  resync: NodeJS.Timeout;
  drainTimeoutMs: number;
  /** Drains under way, by backend id. */
  draining: Map<string, Promise<void>>;
  loop: Promise<void>;
}

export interface FollowerOptions {
  node: string;
  registry: Registry;
  router: Router;
  dataDir: string;
  logger: Logger;
  /** Added to the port of every `traffic.listen` (several agents on one host, as in tests). */
  listenOffset: number;
  cluster: (spec: ServiceSpec) => string;
}

/**
 * The registry follower: makes this node's router send each service's traffic to exactly the registered
 * instances, cluster-wide. New registrations are added as active backends; vanished ones (deregistered,
 * or aged out because their agent died) are drained, waited for, then removed. It also answers drain
 * requests: an agent about to stop an instance asks every node's follower and waits for the answers.
 */
export class RegistryFollower {
  private readonly followed = new Map<string, Followed>();
  private proxyReady: Promise<unknown> | undefined;

  constructor(private readonly o: FollowerOptions) {}

  listenOf(spec: ServiceSpec): string {
    const l = spec.traffic.listen;
    const cut = l.lastIndexOf(':');
    return `${l.slice(0, cut)}:${Number(l.slice(cut + 1)) + this.o.listenOffset}`;
  }

  /** Starts (or updates) following a service. */
  async follow(service: string, spec: ServiceSpec): Promise<void> {
    if (spec.traffic.router.kind === 'proxy') {
      this.proxyReady ??= ensureProxy(this.o.dataDir).catch((e: unknown) => {
        this.proxyReady = undefined;
        throw e;
      });
      await this.proxyReady;
    }
    await this.o.router.ensureRoute({
      service,
      listen: this.listenOf(spec),
      drainTimeoutMs: spec.traffic.drainTimeout,
      router: spec.traffic.router,
    });
    const cur = this.followed.get(service);
    if (cur) {
      cur.drainTimeoutMs = spec.traffic.drainTimeout;
      return;
    }
    const query = { cluster: this.o.cluster(spec), service };
    const watch = await this.o.registry.watch(query);
    const f: Followed = {
      watch,
      query,
      drainTimeoutMs: spec.traffic.drainTimeout,
      draining: new Map(),
      loop: Promise.resolve(),
      // A watch that silently fell behind (its consumer lost with a server) is replaced every TTL.
      resync: setInterval(() => void this.rewatch(service, f), this.o.registry.ttlMs),
    };
    f.loop = this.consume(service, f, watch);
    this.followed.set(service, f);
  }

  private consume(service: string, f: Followed, watch: ServiceWatch): Promise<void> {
    return (async () => {
      for await (const set of watch) {
        await this.apply(service, f, set).catch((err: unknown) =>
          this.o.logger.warn({ err, service }, 'router update failed; next change retries'),
        );
      }
    })();
  }

  /** Starts a fresh watch (current set from the server, then pushes) in place of the old one. */
  private async rewatch(service: string, f: Followed): Promise<void> {
    try {
      const w = await this.o.registry.watch(f.query);
      if (this.followed.get(service) !== f) {
        w.stop();
        return;
      }
      const old = f.watch;
      f.watch = w;
      old.stop();
      f.loop = this.consume(service, f, w);
    } catch (err) {
      this.o.logger.warn({ err, service }, 'registry watch could not be renewed; next interval retries');
    }
  }

  /** Waits (up to `ms`) until the watch no longer lists any of `ids`. */
  private async gone(f: Followed, ids: string[], ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (!f.watch.current().some((r) => ids.includes(r.instance))) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops following; the route is removed (the service is no longer desired). */
  async unfollow(service: string): Promise<void> {
    const f = this.followed.get(service);
    if (!f) return;
    this.followed.delete(service);
    clearInterval(f.resync);
    f.watch.stop();
    await f.loop.catch(() => undefined);
    await this.o.router.removeRoute(service).catch(() => undefined);
  }

  /** Answers a drain request once this node's router sends no request to the instances. */
  async onDrain(req: DrainRequest): Promise<DrainReply> {
    const f = this.followed.get(req.service);
    if (!f) return { node: this.o.node, drained: true, inFlight: 0 };
    // The requester deregistered them first; wait (briefly) for the watch to show it, so the backend is
    // not made active again by a set that still lists it. A watch that does not show it is behind (it
    // lost its consumer with a server): renew it, so new registrations are not missed either.
    if (!(await this.gone(f, req.instances, 1500))) {
      this.o.logger.warn({ service: req.service }, 'registry watch behind a deregistration; renewing it');
      await this.rewatch(req.service, f);
      await this.gone(f, req.instances, 1500);
    }
    const status = await this.o.router.status(req.service);
    const present = req.instances.filter((id) => status?.backends.some((b) => b.id === id));
    if (present.length === 0) return { node: this.o.node, drained: true, inFlight: 0 };
    await this.o.router.drain(req.service, present);
    const r = await this.o.router.waitDrained(req.service, present, f.drainTimeoutMs);
    return { node: this.o.node, drained: r.drained, inFlight: r.inFlight };
  }

  async close(): Promise<void> {
    for (const s of [...this.followed.keys()]) {
      const f = this.followed.get(s)!;
      clearInterval(f.resync);
      f.watch.stop();
      await f.loop.catch(() => undefined);
    }
    this.followed.clear();
  }

  private async apply(service: string, f: Followed, set: ReturnType<ServiceWatch['current']>): Promise<void> {
    const status = await this.o.router.status(service);
    const { add, drain } = diffBackends(status?.backends ?? [], set);
    if (set.length === 0 && status?.backends.some((b) => b.state === 'active'))
      this.o.logger.warn({ service }, 'no registration left; keeping the last known backends (fail static)');
    if (add.length) await this.o.router.addBackends(service, add);
    for (const id of drain) {
      if (f.draining.has(id)) continue;
      const p = this.retire(service, f, id).finally(() => f.draining.delete(id));
      f.draining.set(id, p);
    }
  }

  private async retire(service: string, f: Followed, id: string): Promise<void> {
    await this.o.router.drain(service, [id]);
    const r = await this.o.router.waitDrained(service, [id], f.drainTimeoutMs);
    if (!r.drained)
      this.o.logger.warn({ service, instance: id, inFlight: r.inFlight }, 'drain timed out; removing');
    // Registered again meanwhile (a restarted instance): keep it, the next set makes it active.
    if (f.watch.current().some((x) => x.instance === id)) return;
    await this.o.router.removeBackends(service, [id]);
  }
}
