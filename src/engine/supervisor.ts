import { hideValues, secretsOf } from '../core/secrets.js';
import { address, type Instance, InstanceState, type Revision, type ServiceRecord } from '../core/types.js';
import { runProbe } from '../probe/probe.js';
import { withRuntimeHealth } from './await-healthy.js';
import type { Deployer } from './deployer.js';
import type { EngineDeps } from './deps.js';
import { tell } from './observer.js';

interface Watch {
  nextProbeAt: number;
  passes: number;
  fails: number;
  /** What the router was last told. */
  healthy: boolean | undefined;
  restarts: number;
  nextRestartAt: number;
  healthySince: number | undefined;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A restarted instance that stays healthy this long gets its backoff reset. */
const STABLE_MS = 30_000;
/** How often a service whose load balancer gates traffic is supervised (restarts of exited instances). */
const CLOUD_EVERY_MS = 15_000;
/** How often the runtime's purge runs (docker `purge: true`). */
const PURGE_EVERY_MS = 10_000;

/**
 * Keeps the current revision of every service healthy between deploys: probes routed instances and
 * tells the router when one turns unhealthy or recovers, and restarts crashed instances with backoff.
 * Services with a deploy in progress are left to the deploy.
 */
export class Supervisor {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly specs = new Map<string, Revision>();
  private nextPurgeAt = 0;
  private readonly nextCloudAt = new Map<string, number>();

  constructor(
    private readonly deps: EngineDeps,
    private readonly deployer: Deployer,
    private readonly tickMs = 250,
    private readonly purgeEveryMs = PURGE_EVERY_MS,
  ) {}

  start(): void {
    const loop = () => {
      this.running = this.tick()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'supervisor tick failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }

  /** One pass over every service. Exposed for tests. */
  async tick(): Promise<void> {
    const services = await this.deps.repo.listServices();
    await Promise.all([
      // A reloaded HAProxy gets its servers back (the driver keeps its own interval).
      this.deps.router.reconcile?.(),
      ...services
        .filter((s) => s.current !== null && !s.stopped && !this.deployer.isBusy(s.name))
        .map(async (s) => {
          const revision = await this.revision(s.name, s.current!);
          if (!revision || !this.due(revision)) return;
          await this.superviseService(revision);
        }),
    ]);
    if (this.deps.runtime.purge && Date.now() >= this.nextPurgeAt) {
      this.nextPurgeAt = Date.now() + this.purgeEveryMs;
      await this.purge(services);
    }
  }

  /**
   * Choria Hoist's purge, for docker services with `purge: true`: removes the containers Baton labelled
   * for such a service that belong to no serving revision (left by a crash, a failed cleanup, a lost
   * store). Services that are deploying, stopped or never deployed are left alone; the runtime also
   * spares young containers (`serve --purge-min-age`, 30 s), so a deploy starting right now keeps its
   * new instances.
   */
  private async purge(services: ServiceRecord[]): Promise<void> {
    const serving = new Map<string, number>();
    for (const s of services) {
      if (s.current === null || s.stopped || this.deployer.isBusy(s.name)) continue;
      const r = await this.revision(s.name, s.current);
      if (r?.spec.runtime === 'docker' && r.spec.purge) serving.set(s.name, s.current);
    }
    if (serving.size === 0) return;
    const removed = await this.deps.runtime.purge!((t) => {
      const current = serving.get(t.service);
      return current === undefined || t.revision === current || this.deployer.isBusy(t.service);
    });
    if (removed.length) this.deps.logger.info({ removed }, 'purged containers of no serving revision');
  }

  /**
   * Services gated by their load balancer (probe.by: router — cloud runtimes) are looked at every
   * CLOUD_EVERY_MS, not every tick: each look lists instances through the cloud's API (rate-limited),
   * Baton does not probe them, and the load balancer already takes failing backends out of rotation.
   */
  private due(revision: Revision): boolean {
    if (revision.spec.probe.by !== 'router') return true;
    const now = Date.now();
    if (now < (this.nextCloudAt.get(revision.service) ?? 0)) return false;
    this.nextCloudAt.set(revision.service, now + CLOUD_EVERY_MS);
    return true;
  }

  private async revision(service: string, n: number): Promise<Revision | undefined> {
    const cached = this.specs.get(service);
    if (cached?.number === n) return cached;
    const r = await this.deps.repo.getRevision(service, n);
    if (r) this.specs.set(service, r);
    return r;
  }

  private async superviseService(revision: Revision): Promise<void> {
    const { runtime, router } = this.deps;
    const service = revision.service;
    const [instances, route] = await Promise.all([runtime.list(service), router.status(service)]);
    const backends = new Map(route?.backends.map((b) => [b.id, b]));
    const now = Date.now();
    await Promise.all(
      instances
        .filter((i) => i.revision === revision.number && i.state !== InstanceState.Stopped)
        .map(async (inst) => {
          const w = this.watch(inst.id, backends.get(inst.id)?.healthy);
          if (inst.state === InstanceState.Exited) return this.restart(inst, w, now);
          if (now < w.nextProbeAt) return;
          const probe = revision.spec.probe;
          // The load balancer's own health check takes a failing backend out of rotation; one Baton took
          // offline while its instance was down serves again (the router waits for the LB's OK first).
          if (probe.by === 'router') {
            if (w.healthy === false && backends.get(inst.id)) {
              await router.setHealthy(service, inst.id, true);
              w.healthy = true;
            }
            return;
          }
          w.nextProbeAt = now + probe.interval;
          const r = withRuntimeHealth(await runProbe(probe, { host: inst.host, port: inst.port }), inst);
          if (r.ok) {
            w.passes++;
            w.fails = 0;
          } else {
            w.fails++;
            w.passes = 0;
          }
          const backend = backends.get(inst.id);
          if (r.ok && w.passes >= probe.healthyThreshold) {
            w.healthySince ??= now;
            if (w.healthySince && now - w.healthySince > STABLE_MS) w.restarts = 0;
            if (!backend) {
              // Adopted after the router lost its state: give it traffic again.
              await router.addBackends(service, [
                { id: inst.id, address: `${inst.host}:${inst.port}`, revision: inst.revision, weight: 1 },
              ]);
              w.healthy = true;
            } else if (
              backend.state === 'active' &&
              (w.healthy !== true || backend.address !== address(inst))
            ) {
              // A restarted container comes back on the host port Docker picks: the backend follows it.
              if (backend.address !== address(inst))
                await router.addBackends(service, [
                  { id: inst.id, address: address(inst), revision: inst.revision, weight: backend.weight },
                ]);
              await router.setHealthy(service, inst.id, true);
              w.healthy = true;
            }
          } else if (!r.ok && w.fails >= probe.unhealthyThreshold && w.healthy !== false && backend) {
            this.deps.logger.warn(
              // An exec probe's output can quote the instance's environment: its secrets are hidden.
              { service, instance: inst.id, probe: hideValues(r.detail, secretsOf(revision)) },
              'instance unhealthy; no new requests',
            );
            await router.setHealthy(service, inst.id, false);
            w.healthy = false;
            w.healthySince = undefined;
          }
        }),
    );
    for (const id of this.watches.keys()) if (!instances.some((i) => i.id === id)) this.watches.delete(id);
  }

  private watch(id: string, routerHealthy: boolean | undefined): Watch {
    let w = this.watches.get(id);
    if (!w) {
      w = {
        nextProbeAt: 0,
        passes: 0,
        fails: 0,
        healthy: routerHealthy,
        restarts: 0,
        nextRestartAt: 0,
        healthySince: undefined,
      };
      this.watches.set(id, w);
    }
    return w;
  }

  private async restart(inst: Instance, w: Watch, now: number): Promise<void> {
    const { router, runtime, logger } = this.deps;
    if (w.healthy !== false) {
      await router.setHealthy(inst.service, inst.id, false).catch(() => undefined);
      w.healthy = false;
    }
    w.healthySince = undefined;
    if (now < w.nextRestartAt) return;
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** w.restarts, BACKOFF_MAX_MS);
    w.restarts++;
    w.nextRestartAt = now + delay;
    w.passes = 0;
    w.nextProbeAt = 0;
    logger.warn(
      {
        service: inst.service,
        instance: inst.id,
        exitCode: inst.exitCode,
        signal: inst.signal,
        nextBackoffMs: delay,
      },
      'instance exited; restarting',
    );
    await runtime.restart(inst.id);
    tell(this.deps.observers, (o) => o.instanceRestarted?.(inst.service));
  }
}
