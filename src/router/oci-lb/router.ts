import type { models } from 'oci-loadbalancer';
import type { OciClients } from '../../cloud/oci/clients.js';
import type { CallLog } from '../../cloud/planned.js';
import { DriverError, InputError, NotFoundError } from '../../core/errors.js';
import {
  type Backend,
  BackendState,
  type DrainResult,
  type RevisionSplit,
  type RouteConfig,
  type RouteMode,
  type Router,
  type RouteStatus,
} from '../router.js';
import { parseMode, parsePreviewRevision, parseSplit } from '../validate.js';
import { applyToModel, deleteChanges, describeChange, type LbChange, routeChanges } from './changes.js';
import { desiredBackends } from './desired.js';
import { LbApi } from './lb.js';
import { putBackends, RouteBook, type RouteRecord } from './record.js';
import { type HealthChecker, type OciLbRouteInput, parseRouteSettings } from './settings.js';
import { routeStatus } from './status.js';
import { runChanges } from './sync.js';

export interface OciLbRouterOptions {
  clients: OciClients;
  /**
   * Per-service settings when the route does not carry them (`RouteConfig.router` with kind `oci-lb`
   * wins). Absent for a service: `defaults`.
   */
  services?: Record<string, OciLbRouteInput> | undefined;
  defaults?: OciLbRouteInput | undefined;
  /** Health checker of backend sets Baton creates when the settings name none (wiring: from the probe). */
  healthChecker?: ((service: string) => HealthChecker) | undefined;
  /** Where Baton's record of routes and backends is kept (OCI backends carry no tags); memory only without. */
  stateFile?: string | undefined;
  /**
   * Dry run (`baton plan`): reads go to OCI (the load balancer, its backend sets and backends are found
   * for real), changes are recorded here instead of sent, health and drain waits are recorded, not waited.
   */
  dryRun?: CallLog | undefined;
  /** Between two reads of a work request (default 1 s). */
  workRequestPollMs?: number | undefined;
}

const D = 'oci-lb';
const ADDRESS = /^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/;

/**
 * Router driver for an OCI Load Balancer: each Baton backend is one OCI backend (`privateIp:port`) per
 * configured backend set; states are OCI's `drain` and `offline` flags, a split is backend weights. Every
 * change waits for its work request; new backends take part only once OCI's health check says OK. See
 * README.md for what OCI cannot do (connection counts, atomic switch, preview, hold).
 */
export class OciLbRouter implements Router {
  readonly kind = 'oci-lb';
  private readonly api: LbApi;
  private readonly routes: RouteBook;
  /** Dry run: the load balancers as they will be after the planned changes. */
  private readonly planned = new Map<string, models.LoadBalancer>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: OciLbRouterOptions) {
    this.api = new LbApi(opts.clients.loadBalancer, opts.clients.clock, opts.workRequestPollMs ?? 1000);
    this.routes = new RouteBook(opts.stateFile, opts.dryRun !== undefined);
  }

  private get clock() {
    return this.opts.clients.clock;
  }

  /**
   * Changes run one at a time (OCI runs one work request per load balancer at a time anyway); the record
   * is saved after each, failed ones included (it holds what Baton wants; the next change re-applies it).
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const step = () => fn().finally(() => this.routes.save());
    const run = this.queue.then(step, step);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private route(service: string): RouteRecord {
    const r = this.routes.get(service);
    if (!r) throw new NotFoundError(`route for service ${service}`);
    return r;
  }

  ensureRoute(route: RouteConfig): Promise<void> {
    return this.serial(async () => {
      if (!ADDRESS.test(route.listen))
        throw new InputError(`listen address "${route.listen}" is not host:port`);
      if (route.preview !== undefined && route.preview !== null)
        throw new DriverError(D, 'preview listeners need the embedded proxy (router: proxy)');
      for (const r of this.routes.all())
        if (r.service !== route.service && r.listen === route.listen)
          throw new InputError(`listen address ${route.listen} is already used by service ${r.service}`);
      const fromRoute = (route as { router?: { kind?: string } }).router;
      const settings = parseRouteSettings(
        fromRoute?.kind === 'oci-lb'
          ? fromRoute
          : (this.opts.services?.[route.service] ?? this.opts.defaults),
      );
      const prev = this.routes.get(route.service);
      const next: RouteRecord = {
        service: route.service,
        listen: route.listen,
        drainTimeoutMs: route.drainTimeoutMs,
        settings,
        loadBalancerId: prev?.loadBalancerId ?? (await this.api.find(settings)),
        split: prev?.split ?? null,
        mode: prev?.mode ?? { kind: 'serve' },
        backends: prev?.backends ?? [],
      };
      await this.execute(next, await this.missingBackendSets(next));
      this.routes.set(next);
    });
  }

  /** deploy-inst's TODO: backend sets that do not exist are created, with a health checker. */
  private async missingBackendSets(r: RouteRecord): Promise<LbChange[]> {
    const lb = await this.loadBalancer(r.loadBalancerId);
    const s = r.settings;
    const wanted = new Set((s.backends ?? [{ backendSet: r.service }]).map((b) => b.backendSet));
    const hc = s.healthChecker ??
      this.opts.healthChecker?.(r.service) ?? { protocol: 'TCP' as const, port: 0 };
    return [...wanted]
      .filter((name) => !lb.backendSets?.[name])
      .map((name) => ({ kind: 'create-backend-set', name, policy: s.policy, healthChecker: hc }));
  }

  /** Runs the changes, or records them in a dry run (and applies them to its picture of the LB). */
  private async execute(r: RouteRecord, changes: LbChange[]): Promise<void> {
    const log = this.opts.dryRun;
    if (!log) {
      // What Baton wants is on disk before OCI is asked: OCI backends carry no tags, so a backend created
      // by a control plane that died before the change ended would otherwise be unknown to the next one.
      if (changes.length) this.routes.save();
      return runChanges(this.api, this.clock, r, changes);
    }
    const lb = await this.loadBalancer(r.loadBalancerId);
    for (const c of changes) {
      log.add(describeChange(r.loadBalancerId, c, r.settings.healthTimeout));
      applyToModel(lb, c);
    }
  }

  /** The load balancer as OCI has it; in a dry run, as it will be after what was planned so far. */
  private async loadBalancer(id: string): Promise<models.LoadBalancer> {
    if (!this.opts.dryRun) return this.api.get(id);
    const known = this.planned.get(id);
    if (known) return known;
    const lb = structuredClone(await this.api.get(id));
    this.planned.set(id, lb);
    return lb;
  }

  private async apply(r: RouteRecord): Promise<void> {
    await this.execute(r, routeChanges(await this.loadBalancer(r.loadBalancerId), r));
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await this.execute(r, deleteChanges(desiredBackends(r)));
      this.routes.delete(service);
    });
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      for (const b of backends) checkAddress(b.address);
      putBackends(r, backends, opts?.standby ? BackendState.Standby : BackendState.Active);
      await this.apply(r);
    });
  }

  /**
   * Not atomic on OCI: the listed backends are created or made serving first, then waited for until OCI's
   * health check says OK, and only then is every other backend drained. In between both sets take new
   * connections — never neither.
   */
  switchTo(service: string, ids: string[], add: Backend[] = []): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const adding = new Set(add.map((b) => b.id));
      for (const id of ids)
        if (!adding.has(id) && !r.backends.some((b) => b.id === id))
          throw new NotFoundError(`backend ${id} of service ${service}`);
      for (const b of add) checkAddress(b.address);
      putBackends(r, add, BackendState.Active);
      const wanted = new Set(ids);
      for (const b of r.backends) b.state = wanted.has(b.id) ? BackendState.Active : BackendState.Draining;
      await this.apply(r);
    });
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      for (const b of r.backends) if (ids.includes(b.id)) b.state = BackendState.Draining;
      await this.apply(r);
    });
  }

  /**
   * OCI's API reports no connection count per backend, so this cannot see connections end: it waits the
   * route's `drainPeriod` (deploy-inst waited 10 s) after the drain, bounded by `timeoutMs`, and reports
   * `drained: true` only when the whole period passed. `inFlight` is 0 because it is unknown.
   */
  async waitDrained(service: string, ids: string[], timeoutMs: number): Promise<DrainResult> {
    const r = this.routes.get(service);
    if (!r?.backends.some((b) => ids.includes(b.id))) return { drained: true, inFlight: 0, waitedMs: 0 };
    const wait = Math.min(r.settings.drainPeriod, timeoutMs);
    if (this.opts.dryRun) {
      this.opts.dryRun.add({
        op: 'Wait',
        awaits: `drain period ${wait} ms (OCI reports no connection counts)`,
      });
      return { drained: true, inFlight: 0, waitedMs: 0 };
    }
    const started = this.clock.now();
    await this.clock.sleep(wait);
    return { drained: wait >= r.settings.drainPeriod, inFlight: 0, waitedMs: this.clock.now() - started };
  }

  /** Deletes their OCI backends (each waiting for its work request); OCI closes what is still open. */
  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await this.execute(r, deleteChanges(desiredBackends(r).filter((d) => ids.includes(d.owner.id))));
      r.backends = r.backends.filter((b) => !ids.includes(b.id));
    });
  }

  /** The control plane's probe verdict: an unhealthy backend is set `offline` until it is healthy again. */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.serial(async () => {
      const b = this.routes.get(service)?.backends.find((x) => x.id === id);
      if (!b || b.healthy === healthy) return;
      b.healthy = healthy;
      await this.apply(this.routes.get(service)!);
    });
  }

  /** Through backend weights (see `desiredBackends`); stickiness and forced routing are recorded only. */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      r.split = parseSplit(split);
      await this.apply(r);
    });
  }

  async setPreview(service: string, revision: number | null): Promise<void> {
    this.route(service);
    if (parsePreviewRevision(revision) !== null)
      throw new DriverError(
        D,
        'preview needs the embedded proxy (router: proxy): this driver serves no preview listener on the OCI load balancer',
      );
  }

  /** `maintenance`: every Baton backend offline (the 503 is the load balancer's). `hold` is not possible. */
  setMode(service: string, mode: RouteMode): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      const clean = parseMode(mode);
      if (clean.kind === 'hold')
        throw new DriverError(
          D,
          'hold mode needs the embedded proxy (router: proxy): an OCI load balancer cannot hold requests',
        );
      r.mode = clean;
      await this.apply(r);
    });
  }

  /**
   * From Baton's record (what the driver last applied; OCI confirmed each change by its work request).
   * OCI gives no per-backend request or connection counters here: they are 0, latency has no bounds.
   */
  async status(service: string): Promise<RouteStatus | undefined> {
    const r = this.routes.get(service);
    return r ? routeStatus(r) : undefined;
  }

  async close(): Promise<void> {
    await this.queue;
  }
}

function checkAddress(address: string): void {
  if (!ADDRESS.test(address)) throw new InputError(`backend address "${address}" is not host:port`);
}
