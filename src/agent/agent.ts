import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { KeyedQueue } from '../core/keyed-queue.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { Router } from '../router/router.js';
import type { Runtime } from '../runtime/runtime.js';
import type { NatsAuth } from '../store/nats/connect.js';
import type { NatsStore } from '../store/nats/nats-store.js';
import {
  confirmDrain,
  type DrainReply,
  type DrainRequest,
  SUBJECTS,
  serve,
  type TransitionReply,
  type TransitionRequest,
} from './control.js';
import { allConverged, nodeConverged, recordConverged } from './converged.js';
import { DESIRED_PREFIX, type Desired } from './desired.js';
import type { RegistryFollower } from './follower.js';
import { specForNode } from './node-spec.js';
import type { NodeStatusBucket } from './node-status.js';
import { purgeUnmanaged } from './purge.js';
import { ServiceRunner } from './service-runner.js';
import type { AgentDeps } from './slot.js';

/** How often unmanaged instances are purged. */
const PURGE_EVERY_MS = 10_000;
/** A service whose route could not be opened here (port taken, proxy not starting) is tried again after this. */
const FOLLOW_RETRY_MS = 1000;

export interface AgentOptions {
  nats: string[];
  /** Credentials and TLS trust for NATS (`--nats-creds`, `--nats-tls-ca`, BATON_NATS_*). */
  natsAuth?: NatsAuth | undefined;
  node: string;
  dataDir: string;
  logger: Logger;
  /** Registration and node status TTL, when this agent creates those buckets (default 60 s). */
  ttlMs?: number;
  /** Added to every `traffic.listen` port (several agents on one host). */
  listenOffset?: number;
  /** Reconcile interval (default 250 ms); desired changes are acted on at once besides. */
  tickMs?: number;
}

/**
 * `baton agent`: one per node. Watches the desired state (KV watch), reconciles this node's instances
 * through a ServiceRunner per service, registers healthy instances, publishes the node's status, answers
 * transitions, and follows the registry into this node's router.
 */
export class Agent {
  private readonly runners = new Map<string, ServiceRunner>();
  /** The last desired state seen per service (its `converged` mark included). */
  private readonly desired = new Map<string, Desired>();
  /** Services whose route could not be opened (so no runner yet): when to try again. */
  private readonly followRetryAt = new Map<string, number>();
  /** Desired-state changes, applied one at a time (the watch and the retries). */
  private readonly applying = new KeyedQueue();
  private subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly startedAt = new Date().toISOString();
  private dirty = false;
  private nextPurgeAt = 0;

  /** Made by `startAgent` (start.ts), which connects and wires what it is given. */
  constructor(
    private readonly o: AgentOptions,
    private readonly nc: NatsConnection,
    private readonly store: NatsStore,
    private readonly deps: AgentDeps,
    private readonly follower: RegistryFollower,
    private readonly nodes: NodeStatusBucket,
    private readonly router: Router,
    private readonly runtime: Runtime,
    readonly metrics: AgentMetrics,
  ) {}

  /** This node's services and their slots, as the node status shows them. */
  services() {
    return [...this.runners.values()].map((r) => r.status());
  }

  /** Subscribes, watches the desired state and starts the reconcile loop (startAgent calls it once). */
  async run(): Promise<void> {
    const onError = (err: unknown) => this.o.logger.warn({ err }, 'request handling failed');
    this.subs.push(
      serve<TransitionRequest, TransitionReply>(
        this.nc,
        SUBJECTS.transition,
        async (req) => this.onTransition(req),
        onError,
      ),
      serve<DrainRequest, DrainReply>(this.nc, SUBJECTS.drain, (req) => this.follower.onDrain(req), onError),
    );
    await this.publishStatus();
    const watch = await this.store.watch<Desired>(DESIRED_PREFIX);
    void (async () => {
      for await (const c of watch) {
        if (this.stopped) break;
        const service = c.key.slice(DESIRED_PREFIX.length);
        if (!c.initial) this.metrics.watchLag(Date.now() - c.created.getTime());
        await this.serially(() => (c.op === 'put' ? this.onDesired(c.value) : this.onRemoved(service))).catch(
          (err: unknown) => this.o.logger.error({ err, service }, 'applying desired state failed'),
        );
      }
    })();
    this.stopWatch = () => watch.stop();
    const loop = () => {
      void this.tickOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.tickMs ?? 250);
      });
    };
    loop();
    this.scheduleStatus(this.statusEveryMs());
  }

  private stopWatch: () => void = () => undefined;

  private statusEveryMs(): number {
    return Math.max(250, Math.floor(this.nodes.ttlMs / 4));
  }

  /** Publishes the node status after `ms`, then every quarter of the TTL (sooner after a change). */
  private scheduleStatus(ms: number): void {
    clearTimeout(this.statusTimer);
    if (this.stopped) return;
    this.statusTimer = setTimeout(() => {
      void this.publishStatus()
        .then(() => this.recordConvergence())
        .catch((err: unknown) => this.o.logger.warn({ err }, 'publishing node status failed'))
        .finally(() => this.scheduleStatus(this.dirty ? 100 : this.statusEveryMs()));
    }, ms);
  }

  markChanged(): void {
    if (this.dirty) return;
    this.dirty = true;
    // Soon, not at once: a burst of changes makes one write.
    this.scheduleStatus(100);
  }

  private async onDesired(d: Desired): Promise<void> {
    const rev = await this.deps.repo.getRevision(d.service, d.revision);
    if (!rev) {
      this.o.logger.error({ service: d.service, revision: d.revision }, 'desired revision not found');
      return;
    }
    const seen = this.desired.get(d.service);
    this.desired.set(d.service, d);
    let r = this.runners.get(d.service);
    if (r && seen?.revision === d.revision) {
      // The same revision (a failure counted, the convergence recorded): nothing new to follow.
      r.setDesired(d, rev);
      return;
    }
    this.deps.emit({ type: 'desired', service: d.service, revision: d.revision });
    const spec = specForNode(rev.spec, this.o.node);
    if (r) {
      r.setDesired(d, rev);
      await this.follower.follow(d.service, spec);
    } else {
      // This node's route first (the proxy started, the listener open): only then a runner, so no slot of
      // the service is reported healthy and registered while this node's port still refuses connections.
      // When it cannot be opened, a later tick tries again (retryFollows).
      try {
        await this.follower.follow(d.service, spec);
      } catch (e) {
        this.followRetryAt.set(d.service, Date.now() + FOLLOW_RETRY_MS);
        throw e;
      }
      this.followRetryAt.delete(d.service);
      r = new ServiceRunner(this.deps, d.service, d, rev);
      await r.adopt();
      this.runners.set(d.service, r);
    }
    // Act now rather than at the next tick.
    void this.tickOnce();
    this.markChanged();
  }

  /** Runs `fn` after the desired-state changes applied before it. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    return this.applying.run('desired', fn);
  }

  /** Tries again, when due, to follow the services whose route could not be opened. */
  private retryFollows(): void {
    const now = Date.now();
    for (const [service, at] of this.followRetryAt) {
      if (now < at) continue;
      this.followRetryAt.set(service, Number.POSITIVE_INFINITY); // until this attempt ends
      void this.serially(async () => {
        const d = this.desired.get(service);
        if (!d || this.runners.has(service)) this.followRetryAt.delete(service);
        else await this.onDesired(d);
      }).catch((err: unknown) =>
        this.o.logger.warn({ err, service }, 'route still cannot be opened; trying again'),
      );
    }
  }

  private async onRemoved(service: string): Promise<void> {
    this.followRetryAt.delete(service);
    const r = this.runners.get(service);
    if (!r) return;
    this.runners.delete(service);
    this.desired.delete(service);
    await r.removeAll();
    await this.follower.unfollow(service);
    this.markChanged();
  }

  private tickOnce(): Promise<void> {
    this.ticking = this.ticking.then(() => this.tick());
    return this.ticking;
  }

  private async tick(): Promise<void> {
    this.retryFollows();
    // An HAProxy reload drops the servers added over its runtime API: the router puts them back (each
    // driver on its own `reconcileInterval`; the embedded proxy has nothing to do).
    await this.router
      .reconcile?.()
      .catch((err: unknown) => this.o.logger.warn({ err }, 'router reconcile failed'));
    if (Date.now() >= this.nextPurgeAt) {
      this.nextPurgeAt = Date.now() + PURGE_EVERY_MS;
      await this.purge().catch((err: unknown) => this.o.logger.warn({ err }, 'purge failed'));
    }
    await Promise.all(
      [...this.runners.values()].map((r) =>
        r.tick().catch((err: unknown) => this.o.logger.warn({ err, service: r.service }, 'tick failed')),
      ),
    );
  }

  /**
   * Hoist's purge: instances this agent created (its node's ids) for services that are no longer desired
   * are stopped and removed; with a runtime that can purge (docker), every container it labelled that
   * belongs to no desired service or revision in use (the runtime spares young containers). What is
   * desired is read from the store, not from the runners, so a service whose runner is not made yet
   * (an agent that just started) is never purged.
   */
  private purge(): Promise<void> {
    return purgeUnmanaged({
      node: this.o.node,
      store: this.store,
      runtime: this.runtime,
      emit: this.deps.emit,
      inUse: (service) => this.runners.get(service)?.revisionsInUse(),
    });
  }

  private async onTransition(req: TransitionRequest): Promise<TransitionReply | undefined> {
    if (req.node !== undefined && req.node !== this.o.node) return undefined;
    const r = this.runners.get(req.service);
    if (!r) return { node: this.o.node, known: false, results: [] };
    const results = r.apply(req.transition);
    void this.tickOnce();
    return { node: this.o.node, known: true, results };
  }

  /** Asks every live node's follower to stop routing to `req.instances`, until all confirmed (confirmDrain). */
  drainEverywhere(req: DrainRequest, attemptMs: number): Promise<boolean> {
    return confirmDrain(this.nc, req, {
      attemptMs,
      liveNodes: async () => (await this.nodes.list()).map((n) => n.node),
      silentMs: this.nodes.ttlMs,
      stopped: () => this.stopped,
      logger: this.o.logger,
    });
  }

  /**
   * After publishing a status in which this node runs a not-yet-converged desired revision: when every
   * live node does, records it (revision statuses, the service's current revision). Several agents may
   * see it at once; the compare-and-set in `recordConverged` lets one of them write.
   */
  private async recordConvergence(): Promise<void> {
    let nodes: Awaited<ReturnType<NodeStatusBucket['list']>> | undefined;
    for (const r of this.runners.values()) {
      const d = this.desired.get(r.service);
      const replicas = r.revision.spec.replicas;
      if (!d || d.converged || r.revision.number !== d.revision) continue;
      const mine = { node: this.o.node, pid: 0, at: '', startedAt: '', services: [r.status()] };
      if (!nodeConverged(mine, r.service, d.revision, replicas)) continue;
      nodes ??= await this.nodes.list();
      if (!allConverged(nodes, r.service, d.revision, replicas)) continue;
      if (await recordConverged(this.store, this.deps.repo, r.service, d.revision, `agent:${this.o.node}`))
        this.deps.emit({ type: 'converged', service: r.service, revision: d.revision });
    }
  }

  private async publishStatus(): Promise<void> {
    this.dirty = false;
    await this.nodes.put({
      node: this.o.node,
      pid: process.pid,
      at: new Date().toISOString(),
      startedAt: this.startedAt,
      services: this.services(),
    });
  }

  /** Stops watching and reconciling; instances keep running, registrations age out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.statusTimer);
    this.stopWatch();
    for (const s of this.subs) s.unsubscribe();
    await this.ticking.catch(() => undefined);
    await Promise.all([...this.runners.values()].map((r) => r.close()));
    await this.follower.close();
    await this.nodes.remove(this.o.node).catch(() => undefined);
    await this.router.close().catch(() => undefined);
    await this.runtime.close().catch(() => undefined);
    await this.nc.drain().catch(() => undefined);
  }
}
