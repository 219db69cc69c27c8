import type { Logger } from 'pino';
import type { Registration, Registry } from '../cluster/registry.js';
import type { ServiceWatch } from '../cluster/registry-watch.js';
import { ensureProxy } from '../router/proxy/launch.js';
import { routeLimitsOf } from '../router/route-config.js';
import type { DrainResult, Router } from '../router/router.js';
import type { ServiceSpec } from '../spec/schema.js';
import type { DrainReply, DrainRequest } from './control.js';
import { Burials, diffBackends, Pins, toActivate } from './follower-diff.js';

interface Followed {
  watch: ServiceWatch;
  query: { cluster: string; service: string };
  resync: NodeJS.Timeout;
  drainTimeoutMs: number;
  /** Drains under way, by backend id. */
  draining: Map<string, Promise<DrainResult>>;
  loop: Promise<void>;
  /** The tail of this service's router changes: applying a set and answering a drain never interleave. */
  lock: Promise<unknown>;
  /** Replacements added from drain requests that the watch has not listed yet. */
  pins: Pins;
  /** Instances drained on request that the watch may still list. */
  burials: Burials;
  /** When the current watch was started (it read the registry after this). */
  watchStartedAt: number;
  /** The watch renewal under way. */
  renewing: Promise<void> | undefined;
}

/**
 * A pin or a burial lasts this many registration TTLs: the watch is renewed every TTL, so it has caught
 * up by then.
 */
const PIN_TTLS = 3;
/** How long after a drain request the watch may take to show it before it is renewed. */
const CATCH_UP_MS = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
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
      keepAliveTimeoutMs: spec.traffic.keepAliveTimeout,
      router: spec.traffic.router,
      limits: routeLimitsOf(spec.traffic),
    });
    const cur = this.followed.get(service);
    if (cur) {
      cur.drainTimeoutMs = spec.traffic.drainTimeout;
      return;
    }
    const query = { cluster: this.o.cluster(spec), service };
    const startedAt = Date.now();
    const watch = await this.o.registry.watch(query);
    const f: Followed = {
      watch,
      query,
      drainTimeoutMs: spec.traffic.drainTimeout,
      draining: new Map(),
      loop: Promise.resolve(),
      lock: Promise.resolve(),
      pins: new Pins(),
      burials: new Burials(),
      watchStartedAt: startedAt,
      renewing: undefined,
      // A watch that silently fell behind (its consumer lost with a server) is replaced every TTL.
      resync: setInterval(() => void this.renew(service, f), this.o.registry.ttlMs),
    };
    f.loop = this.consume(service, f, watch);
    this.followed.set(service, f);
  }

  private consume(service: string, f: Followed, watch: ServiceWatch): Promise<void> {
    return (async () => {
      for await (const set of watch) {
        await this.locked(f, () => this.apply(service, f, watch, set)).catch((err: unknown) =>
          this.o.logger.warn({ err, service }, 'router update failed; next change retries'),
        );
      }
    })();
  }

  /** Runs `fn` after this service's earlier router changes. */
  private locked<T>(f: Followed, fn: () => Promise<T>): Promise<T> {
    const p = f.lock.then(fn);
    f.lock = p.catch(() => undefined);
    return p;
  }

  /** Renews the watch (one renewal at a time); waits for it at most `ms`. */
  private async renew(service: string, f: Followed, ms = Number.POSITIVE_INFINITY): Promise<void> {
    f.renewing ??= this.rewatch(service, f).finally(() => {
      f.renewing = undefined;
    });
    await Promise.race([f.renewing, ...(Number.isFinite(ms) ? [sleep(ms)] : [])]);
  }

  /** Starts a fresh watch (current set from the server, then pushes) in place of the old one. */
  private async rewatch(service: string, f: Followed): Promise<void> {
    try {
      const startedAt = Date.now();
      const w = await this.o.registry.watch(f.query);
      if (this.followed.get(service) !== f) {
        w.stop();
        return;
      }
      const old = f.watch;
      f.watch = w;
      f.watchStartedAt = startedAt;
      old.stop();
      f.loop = this.consume(service, f, w);
    } catch (err) {
      this.o.logger.warn({ err, service }, 'registry watch could not be renewed; next interval retries');
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

  /**
   * Answers a drain request: first the replacements become active backends here (added from the request
   * when the watch has not shown them yet, and pinned so a set from a watch that is behind cannot drain
   * them), then the instances are drained (and buried, so such a set cannot make them active again), and
   * the answer comes when they finished their requests (or the drain timed out). A watch that has not
   * shown the change is behind (its consumer lost with a server): it is renewed, so later changes are not
   * missed either. Not confirmed (the requester keeps the instances serving and asks again) only when
   * this router could not be changed.
   */
  async onDrain(req: DrainRequest): Promise<DrainReply> {
    const node = this.o.node;
    const f = this.followed.get(req.service);
    if (!f) return { node, confirmed: true, drained: true, inFlight: 0 };
    const replacements = (req.replacements ?? []).filter(
      (r) => r.service === f.query.service && r.cluster === f.query.cluster,
    );
    try {
      const present = await this.locked(f, async () => {
        await this.activate(req.service, f, replacements);
        // Only what the watch still lists needs burying: once it showed an instance gone, a listing is a
        // new registration (a restarted instance), however soon it comes.
        const now = Date.now();
        const cur = f.watch.current();
        for (const id of req.instances) if (cur.some((r) => r.instance === id)) f.burials.bury(id, now);
        const status = await this.o.router.status(req.service);
        return req.instances.filter((id) => status?.backends.some((b) => b.id === id));
      });
      const listed = (id: string) => f.watch.current().some((r) => r.instance === id);
      const caughtUp = () => !req.instances.some(listed) && replacements.every((r) => listed(r.instance));
      void until(caughtUp, CATCH_UP_MS).then((ok) => {
        if (ok) return;
        this.o.logger.warn({ service: req.service }, 'registry watch behind a drain request; renewing it');
        return this.renew(req.service, f);
      });
      const results = await Promise.all(present.map((id) => this.retireOnce(req.service, f, id)));
      return {
        node,
        confirmed: true,
        drained: results.every((r) => r.drained),
        inFlight: results.reduce((n, r) => n + r.inFlight, 0),
      };
    } catch (err) {
      const reason = `router could not be changed: ${err instanceof Error ? err.message : String(err)}`;
      return { node, confirmed: false, reason, drained: false, inFlight: 0 };
    }
  }

  /** Makes `regs` active backends, pinning the ones the watch does not list yet. */
  private async activate(service: string, f: Followed, regs: Registration[]): Promise<void> {
    if (regs.length === 0) return;
    const cur = f.watch.current();
    const until = Date.now() + PIN_TTLS * this.o.registry.ttlMs;
    for (const r of regs) if (!cur.some((x) => x.instance === r.instance)) f.pins.pin(r.instance, until);
    const status = await this.o.router.status(service);
    const add = toActivate(status?.backends ?? [], regs);
    if (add.length) await this.o.router.addBackends(service, add);
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

  private async apply(
    service: string,
    f: Followed,
    watch: ServiceWatch,
    set: ReturnType<ServiceWatch['current']>,
  ): Promise<void> {
    // A renewed watch replaced this one: its sets are older than the new watch's.
    if (f.watch !== watch) return;
    const now = Date.now();
    f.pins.seen(set, now);
    f.burials.seen(set, f.watchStartedAt, now, PIN_TTLS * this.o.registry.ttlMs);
    const status = await this.o.router.status(service);
    const diff = diffBackends(status?.backends ?? [], set);
    const add = f.burials.filter(diff.add);
    const drain = f.pins.filter(diff.drain, now);
    if (set.length === 0 && status?.backends.some((b) => b.state === 'active'))
      this.o.logger.warn({ service }, 'no registration left; keeping the last known backends (fail static)');
    if (add.length) await this.o.router.addBackends(service, add);
    for (const id of drain) void this.retireOnce(service, f, id);
  }

  /** Drains, waits for, then removes a backend; one retirement per backend at a time. */
  private retireOnce(service: string, f: Followed, id: string): Promise<DrainResult> {
    let p = f.draining.get(id);
    if (!p) {
      p = this.retire(service, f, id).finally(() => f.draining.delete(id));
      f.draining.set(id, p);
    }
    return p;
  }

  private async retire(service: string, f: Followed, id: string): Promise<DrainResult> {
    await this.o.router.drain(service, [id]);
    const r = await this.o.router.waitDrained(service, [id], f.drainTimeoutMs);
    if (!r.drained)
      this.o.logger.warn({ service, instance: id, inFlight: r.inFlight }, 'drain timed out; removing');
    await this.locked(f, async () => {
      // Registered again meanwhile (a restarted instance), or a replacement again: keep it.
      const listed = f.watch.current().some((x) => x.instance === id) && !f.burials.has(id);
      if (listed || f.pins.has(id, Date.now())) return;
      await this.o.router.removeBackends(service, [id]);
    });
    return r;
  }
}
