import type { OciClients } from '../../cloud/oci/clients.js';
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
import { desiredBackends } from './desired.js';
import { LbApi } from './lb.js';
import { putBackends, RouteBook, type RouteRecord } from './record.js';
import { type HealthChecker, type OciLbRouteInput, parseRouteSettings } from './settings.js';
import { routeStatus } from './status.js';
import { applyRoute, deleteBackends } from './sync.js';

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
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: OciLbRouterOptions) {
    this.api = new LbApi(opts.clients.loadBalancer, opts.clients.clock, opts.workRequestPollMs ?? 1000);
    this.routes = new RouteBook(opts.stateFile);
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
      const loadBalancerId = prev?.loadBalancerId ?? (await this.api.find(settings));
      await this.ensureBackendSets(route.service, loadBalancerId, settings);
      this.routes.set({
        service: route.service,
        listen: route.listen,
        drainTimeoutMs: route.drainTimeoutMs,
        settings,
        loadBalancerId,
        split: prev?.split ?? null,
        mode: prev?.mode ?? { kind: 'serve' },
        backends: prev?.backends ?? [],
      });
    });
  }

  /** deploy-inst's TODO: backend sets that do not exist are created, with a health checker. */
  private async ensureBackendSets(service: string, id: string, s: RouteRecord['settings']): Promise<void> {
    const lb = await this.api.get(id);
    const wanted = new Set((s.backends ?? [{ backendSet: service }]).map((b) => b.backendSet));
    for (const name of wanted) {
      if (lb.backendSets?.[name]) continue;
      const hc = s.healthChecker ??
        this.opts.healthChecker?.(service) ?? { protocol: 'TCP' as const, port: 0 };
      await this.api.createBackendSet(id, name, s.policy, hc);
    }
  }

  removeRoute(service: string): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await deleteBackends(this.api, r, desiredBackends(r));
      this.routes.delete(service);
    });
  }

  addBackends(service: string, backends: Backend[], opts?: { standby?: boolean }): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      for (const b of backends) checkAddress(b.address);
      putBackends(r, backends, opts?.standby ? BackendState.Standby : BackendState.Active);
      await applyRoute(this.api, this.clock, r);
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
      await applyRoute(this.api, this.clock, r);
    });
  }

  drain(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      for (const b of r.backends) if (ids.includes(b.id)) b.state = BackendState.Draining;
      await applyRoute(this.api, this.clock, r);
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
    const started = this.clock.now();
    await this.clock.sleep(wait);
    return { drained: wait >= r.settings.drainPeriod, inFlight: 0, waitedMs: this.clock.now() - started };
  }

  /** Deletes their OCI backends (each waiting for its work request); OCI closes what is still open. */
  removeBackends(service: string, ids: string[]): Promise<void> {
    return this.serial(async () => {
      const r = this.routes.get(service);
      if (!r) return;
      await deleteBackends(
        this.api,
        r,
        desiredBackends(r).filter((d) => ids.includes(d.owner.id)),
      );
      r.backends = r.backends.filter((b) => !ids.includes(b.id));
    });
  }

  /** The control plane's probe verdict: an unhealthy backend is set `offline` until it is healthy again. */
  setHealthy(service: string, id: string, healthy: boolean): Promise<void> {
    return this.serial(async () => {
      const b = this.routes.get(service)?.backends.find((x) => x.id === id);
      if (!b || b.healthy === healthy) return;
      b.healthy = healthy;
      await applyRoute(this.api, this.clock, this.routes.get(service)!);
    });
  }

  /** Through backend weights (see `desiredBackends`); stickiness and forced routing are recorded only. */
  setSplit(service: string, split: RevisionSplit | null): Promise<void> {
    return this.serial(async () => {
      const r = this.route(service);
      r.split = parseSplit(split);
      await applyRoute(this.api, this.clock, r);
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
      await applyRoute(this.api, this.clock, r);
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
